use super::*;
use std::sync::Barrier;
use std::time::Duration;

/// A fixed instant, so that every test's times are exact.
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn password_of(c: Credential) -> (Vec<u8>, u64) {
    match c {
        Credential::Password {
            password,
            generation,
        } => (password, generation),
        other => panic!("expected a password, got {other:?}"),
    }
}

#[test]
fn default_credentials_apply_to_devices_without_a_ticket() {
    let none = Tickets::new(DefaultCredential::NoAuth);
    assert_eq!(none.credential("sim0", t0()), Credential::NoAuth);
    assert_eq!(none.describe("sim0", t0()).auth, Auth::None);

    let fixed = Tickets::new(DefaultCredential::Password(b"run-pass".to_vec()));
    let (password, generation) = password_of(fixed.credential("sim0", t0()));
    assert_eq!(password, b"run-pass");
    assert_eq!(fixed.redeem("sim0", generation, t0()), Ok(()));
    // The default password is not one-time: it lets the next client in too.
    assert_eq!(fixed.redeem("sim0", generation, t0()), Ok(()));
    assert_eq!(fixed.describe("sim0", t0()).auth, Auth::Password);

    let locked = Tickets::new(DefaultCredential::Locked);
    assert_eq!(
        locked.credential("sim0", t0()),
        Credential::Refused(NO_PASSWORD_YET.to_owned())
    );
    assert_eq!(locked.describe("sim0", t0()).auth, Auth::Locked);
    assert_eq!(
        locked.redeem("sim0", 0, t0()),
        Err(NO_PASSWORD_YET.to_owned())
    );
}

#[test]
fn a_device_password_replaces_the_default_for_that_device_only() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    tickets
        .set_password("sim0", b"s3cret".to_vec(), false, Expiry::Never)
        .unwrap();
    let (password, generation) = password_of(tickets.credential("sim0", t0()));
    assert_eq!(password, b"s3cret");
    assert_ne!(generation, 0);
    assert_eq!(
        tickets.credential("sim1", t0()),
        Credential::Refused(NO_PASSWORD_YET.to_owned())
    );
}

#[test]
fn a_password_expires_at_the_instant_and_after_it_not_before() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let at = t0() + secs(60);
    tickets
        .set_password("sim0", b"s3cret".to_vec(), false, Expiry::At(at))
        .unwrap();
    let before = at - Duration::from_millis(1);
    let (_, generation) = password_of(tickets.credential("sim0", before));
    let expired = Credential::Refused(EXPIRED.to_owned());
    assert_eq!(tickets.credential("sim0", at), expired);
    assert_eq!(tickets.credential("sim0", at + secs(1)), expired);
    // A client that answered after the expiry is refused too.
    assert_eq!(
        tickets.redeem("sim0", generation, at),
        Err(EXPIRED.to_owned())
    );
    let info = tickets.describe("sim0", at);
    assert_eq!(info.auth, Auth::Locked);
    assert_eq!(info.expires, Some(at));
    assert_eq!(tickets.describe("sim0", before).auth, Auth::Password);
}

#[test]
fn expiring_now_refuses_at_once_and_never_lifts_it() {
    let tickets = Tickets::new(DefaultCredential::Password(b"run-pass".to_vec()));
    // The default password is expired for one device; the others keep it.
    tickets.expire_password("sim0", Expiry::At(t0())).unwrap();
    assert_eq!(
        tickets.credential("sim0", t0()),
        Credential::Refused(EXPIRED.to_owned())
    );
    assert_eq!(password_of(tickets.credential("sim1", t0())).0, b"run-pass");
    tickets.expire_password("sim0", Expiry::Never).unwrap();
    let (password, generation) = password_of(tickets.credential("sim0", t0() + secs(1_000_000)));
    assert_eq!(password, b"run-pass");
    assert_eq!(tickets.redeem("sim0", generation, t0()), Ok(()));
    assert_eq!(tickets.describe("sim0", t0()).expires, None);
}

#[test]
fn expire_password_needs_a_password_to_expire() {
    let none = Tickets::new(DefaultCredential::NoAuth);
    let err = none.expire_password("sim0", Expiry::Never).unwrap_err();
    assert!(
        err.to_string().contains("served without authentication"),
        "{err}"
    );
    let locked = Tickets::new(DefaultCredential::Locked);
    let err = locked.expire_password("sim0", Expiry::Never).unwrap_err();
    assert!(err.to_string().contains(NO_PASSWORD_YET), "{err}");
    // Once it has one, its expiry can be set.
    locked
        .set_password("sim0", b"pw".to_vec(), false, Expiry::Never)
        .unwrap();
    locked
        .expire_password("sim0", Expiry::At(t0() + secs(5)))
        .unwrap();
    assert_eq!(locked.describe("sim0", t0()).expires, Some(t0() + secs(5)));
}

#[test]
fn a_one_time_password_lets_exactly_one_of_two_racing_logins_in() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    tickets
        .set_password("sim0", b"once".to_vec(), true, Expiry::Never)
        .unwrap();
    // Both connections got the credential before either logged in.
    let (_, first) = password_of(tickets.credential("sim0", t0()));
    let (_, second) = password_of(tickets.credential("sim0", t0()));
    assert_eq!(first, second);
    let barrier = Barrier::new(2);
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let racers: Vec<_> = [first, second]
            .into_iter()
            .map(|generation| {
                let (tickets, barrier) = (&tickets, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    tickets.redeem("sim0", generation, t0())
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(USED.to_owned())), "{results:?}");
    assert_eq!(
        tickets.credential("sim0", t0()),
        Credential::Refused(USED.to_owned())
    );
    let info = tickets.describe("sim0", t0());
    assert_eq!(
        (info.auth, info.one_time, info.used),
        (Auth::Locked, true, true)
    );
}

#[test]
fn a_password_replaced_during_a_login_lets_that_login_fail() {
    let tickets = Tickets::new(DefaultCredential::Password(b"run-pass".to_vec()));
    let (_, old_default) = password_of(tickets.credential("sim0", t0()));
    tickets
        .set_password("sim0", b"first".to_vec(), false, Expiry::Never)
        .unwrap();
    assert_eq!(
        tickets.redeem("sim0", old_default, t0()),
        Err(REPLACED.to_owned())
    );
    let (_, first) = password_of(tickets.credential("sim0", t0()));
    tickets
        .set_password("sim0", b"second".to_vec(), true, Expiry::Never)
        .unwrap();
    assert_eq!(
        tickets.redeem("sim0", first, t0()),
        Err(REPLACED.to_owned())
    );
    let (password, second) = password_of(tickets.credential("sim0", t0()));
    assert_eq!(password, b"second");
    assert_eq!(tickets.redeem("sim0", second, t0()), Ok(()));
    // Setting a new one-time password makes the device usable again.
    tickets
        .set_password("sim0", b"third".to_vec(), true, Expiry::Never)
        .unwrap();
    assert_eq!(password_of(tickets.credential("sim0", t0())).0, b"third");
}

#[test]
fn due_reports_each_expiry_once_and_next_expiry_is_the_earliest() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    assert_eq!(tickets.next_expiry(), None);
    tickets
        .set_password("b", b"pw".to_vec(), false, Expiry::At(t0() + secs(20)))
        .unwrap();
    tickets
        .set_password("a", b"pw".to_vec(), false, Expiry::At(t0() + secs(10)))
        .unwrap();
    tickets
        .set_password("c", b"pw".to_vec(), false, Expiry::Never)
        .unwrap();
    assert_eq!(tickets.next_expiry(), Some(t0() + secs(10)));
    assert!(tickets.due(t0() + secs(9)).is_empty());
    assert_eq!(tickets.due(t0() + secs(10)), vec!["a".to_owned()]);
    assert!(tickets.due(t0() + secs(11)).is_empty());
    assert_eq!(tickets.next_expiry(), Some(t0() + secs(20)));
    assert_eq!(tickets.due(t0() + secs(30)), vec!["b".to_owned()]);
    assert!(tickets.due(t0() + secs(31)).is_empty());
    assert_eq!(tickets.next_expiry(), None);
    // A new expiry is reported again when it passes.
    tickets
        .expire_password("a", Expiry::At(t0() + secs(40)))
        .unwrap();
    assert_eq!(tickets.due(t0() + secs(40)), vec!["a".to_owned()]);
}

#[test]
fn bad_names_and_passwords_are_refused_with_reasons() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    for name in ["", "a b", "../x", "sim0\n", &"x".repeat(65)] {
        assert_eq!(
            tickets.set_password(name, b"pw".to_vec(), false, Expiry::Never),
            Err(TicketError::BadDeviceName),
            "{name:?}"
        );
    }
    assert!(valid_device_name(&"x".repeat(64)));
    assert!(valid_device_name("vgpu-0.a_b"));
    assert_eq!(
        tickets.set_password("sim0", Vec::new(), false, Expiry::Never),
        Err(TicketError::EmptyPassword)
    );
    assert_eq!(
        tickets.set_password("sim0", vec![b'x'; 257], false, Expiry::Never),
        Err(TicketError::LongPassword(257))
    );
    assert!(
        tickets
            .set_password("sim0", vec![b'x'; 256], false, Expiry::Never)
            .is_ok()
    );
}

#[test]
fn the_table_is_bounded() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    for i in 0..MAX_TICKETS {
        tickets
            .set_password(&format!("d{i}"), b"pw".to_vec(), false, Expiry::Never)
            .unwrap();
    }
    assert_eq!(
        tickets.set_password("one-more", b"pw".to_vec(), false, Expiry::Never),
        Err(TicketError::Full)
    );
    // A device that has a ticket can still be given a new one.
    assert!(
        tickets
            .set_password("d0", b"new".to_vec(), false, Expiry::Never)
            .is_ok()
    );
}
