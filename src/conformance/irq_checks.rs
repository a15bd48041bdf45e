//! IRQ checks on every index that offers eventfds: binding, loopback triggers, and automask.

use super::Recorder;
use super::id;
use crate::device::DisplayDevice;
use crate::vfio::IrqAction;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::EventFd;
use std::os::fd::AsFd;

/// Waits up to `ms` for the eventfd; reads it when it fired.
fn fired(efd: &EventFd, ms: u16) -> bool {
    let mut fds = [PollFd::new(efd.as_fd(), PollFlags::POLLIN)];
    let ready = matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0);
    if ready {
        let _ = efd.read();
    }
    ready
}

pub(super) fn run(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    let mut bound = Vec::new();
    let mut refused = Vec::new();
    let mut loopback = Vec::new();
    let mut automask = Vec::new();
    for index in 0..dev.info().num_irqs.min(16) {
        let Ok(info) = dev.irq_info(index) else {
            continue;
        };
        if info.count == 0 || !info.eventfd() {
            continue;
        }
        let Ok(efd) = EventFd::new() else { continue };
        if let Err(e) = dev.set_irq_eventfds(index, 0, &[Some(efd.as_fd())]) {
            refused.push(format!("index {index}: {e}"));
            continue;
        }
        bound.push(index);
        // Whatever is pending from the device's own activity is not ours; a line that keeps
        // firing on its own is reported, not waited out.
        let mut drained = 0;
        while drained < 50 && fired(&efd, 20) {
            drained += 1;
            if info.automasked() {
                let _ = dev.irq_action(IrqAction::Unmask, index, 0, 1);
            }
        }
        if drained == 50 {
            loopback.push(Err(format!(
                "index {index}: fires on its own without end (50 interrupts in a row, each \
                 within 20 ms of the last)"
            )));
            if info.automasked() {
                automask.push(Err(format!(
                    "index {index}: fires again after every unmask with nothing triggered (a \
                     stuck line: an interrupt storm)"
                )));
            }
            let _ = dev.disable_irq(index);
            continue;
        }
        let triggered = dev.irq_action(IrqAction::Trigger, index, 0, 1);
        match &triggered {
            Err(e) => loopback.push(Err(format!("index {index}: trigger: {e}"))),
            Ok(()) if fired(&efd, 500) => loopback.push(Ok(index)),
            Ok(()) => loopback.push(Err(format!(
                "index {index}: the trigger never reached the eventfd"
            ))),
        }
        if info.automasked() && triggered.is_ok() {
            automask.push(automasked(dev, index, &efd));
        }
        let _ = dev.disable_irq(index);
    }
    if !refused.is_empty() {
        rec.fail(id::IRQS_EVENTFD, refused.join("; "));
    } else if bound.is_empty() {
        for id in [id::IRQS_EVENTFD, id::IRQS_LOOPBACK, id::IRQS_AUTOMASK] {
            rec.skip(id, "no IRQ index offers eventfds");
        }
        return;
    } else {
        rec.pass(
            id::IRQS_EVENTFD,
            format!("indexes {bound:?} accept an eventfd"),
        );
    }
    let bad: Vec<String> = loopback.iter().filter_map(|r| r.clone().err()).collect();
    if bad.is_empty() {
        rec.pass(
            id::IRQS_LOOPBACK,
            format!("indexes {bound:?}: each trigger arrived"),
        );
    } else {
        rec.fail(id::IRQS_LOOPBACK, bad.join("; "));
    }
    if automask.is_empty() {
        rec.skip(id::IRQS_AUTOMASK, "no AUTOMASKED index");
    } else {
        let bad: Vec<String> = automask.iter().filter_map(|r| r.clone().err()).collect();
        if bad.is_empty() {
            let ok: Vec<String> = automask.iter().filter_map(|r| r.clone().ok()).collect();
            rec.pass(id::IRQS_AUTOMASK, ok.join("; "));
        } else {
            rec.fail(id::IRQS_AUTOMASK, bad.join("; "));
        }
    }
}

/// After the loopback fired, the line is masked: a trigger stays silent until the unmask, and an
/// unmask with nothing pending stays silent too (a line that fires then is stuck asserted).
fn automasked(dev: &dyn DisplayDevice, index: u32, efd: &EventFd) -> Result<String, String> {
    let act = |a: IrqAction| {
        dev.irq_action(a, index, 0, 1)
            .map_err(|e| format!("index {index}: {}: {e}", a.name()))
    };
    // Masked now (automask): nothing may arrive, even on a trigger.
    act(IrqAction::Trigger)?;
    if fired(efd, 100) {
        return Err(format!(
            "index {index}: an interrupt arrived while the line was masked"
        ));
    }
    // The unmask delivers what was pending, once.
    act(IrqAction::Unmask)?;
    let pending = fired(efd, 200);
    // Masked again if it fired; unmask with nothing pending.
    if pending {
        act(IrqAction::Unmask)?;
    }
    if fired(efd, 100) {
        return Err(format!(
            "index {index}: fires again after an unmask with nothing pending (a stuck line: an interrupt storm)"
        ));
    }
    Ok(format!(
        "index {index}: silent while masked; unmask {} the pending trigger; silent after",
        if pending { "delivered" } else { "dropped" }
    ))
}

/// Whether the driver has a request path: it only reads the IRQ info, so it runs on a shared
/// device too.
pub(super) fn request(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    let index = crate::uapi::VFIO_PCI_REQ_IRQ_INDEX;
    let num_irqs = dev.info().num_irqs;
    match crate::device::request_irq(dev) {
        Some(info) => rec.pass(
            id::IRQS_REQUEST,
            format!(
                "index {index} offers {} eventfd vector{}: removal asks the holder to let go",
                info.count,
                if info.count == 1 { "" } else { "s" }
            ),
        ),
        None => rec.skip(
            id::IRQS_REQUEST,
            format!(
                "no request IRQ (index {index} is not offered with eventfds; the device \
                 lists {} IRQ index{}): the driver has no request path, so removing the mdev \
                 waits until every process that holds it (this tool included) has closed it",
                num_irqs,
                if num_irqs == 1 { "" } else { "es" }
            ),
        ),
    }
}
