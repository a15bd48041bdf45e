//! When a password expires, in QMP `expire_password`'s format: "now", "never", "+SECONDS"
//! from now, or an absolute time in seconds since the epoch (which also comes as a JSON number
//! here). Times are the server's clock, as in QEMU.

use crate::app::serve::tickets::Expiry;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// What a time that is not understood is told.
const FORMAT: &str = "a time is \"now\", \"never\", \"+SECONDS\" (from now) or SECONDS since the \
                      Unix epoch";

/// The expiry that `value` names, at `now`.
pub(super) fn parse(value: &Value, now: SystemTime) -> Result<Expiry, String> {
    match value {
        Value::String(s) => parse_str(s, now),
        Value::Number(n) => match n.as_u64() {
            Some(secs) => absolute(secs),
            None => Err(format!("{n} is not a whole number of seconds: {FORMAT}")),
        },
        _ => Err(FORMAT.to_owned()),
    }
}

fn parse_str(s: &str, now: SystemTime) -> Result<Expiry, String> {
    match s {
        "now" => Ok(Expiry::At(now)),
        "never" => Ok(Expiry::Never),
        _ => {
            let (relative, digits) = match s.strip_prefix('+') {
                Some(rest) => (true, rest),
                None => (false, s),
            };
            let secs = seconds(digits)?;
            if relative {
                now.checked_add(Duration::from_secs(secs))
                    .map(Expiry::At)
                    .ok_or_else(|| format!("+{secs} seconds is too far in the future"))
            } else {
                absolute(secs)
            }
        }
    }
}

/// Decimal digits only: no sign, no spaces, no fraction (QEMU's strtoull would take "12abc"
/// as 12; a typo here is better refused).
fn seconds(digits: &str) -> Result<u64, String> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FORMAT.to_owned());
    }
    digits
        .parse()
        .map_err(|_| "that many seconds is too far in the future".to_owned())
}

fn absolute(secs: u64) -> Result<Expiry, String> {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .map(Expiry::At)
        .ok_or_else(|| format!("{secs} seconds since the epoch is too far in the future"))
}

/// The expiry for the audit log: "expires never", "expires now", "expires in 60 s".
pub(super) fn describe(expiry: Expiry, now: SystemTime) -> String {
    match expiry {
        Expiry::Never => "expires never".to_owned(),
        Expiry::At(at) => match at.duration_since(now) {
            Ok(left) if !left.is_zero() => format!("expires in {} s", left.as_secs()),
            _ => "expires now".to_owned(),
        },
    }
}

/// Seconds since the epoch, as `query-devices` and `query-clients` show times.
pub(super) fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn the_qmp_forms_are_understood() {
        let now = t0();
        assert_eq!(parse(&json!("now"), now), Ok(Expiry::At(now)));
        assert_eq!(parse(&json!("never"), now), Ok(Expiry::Never));
        assert_eq!(
            parse(&json!("+60"), now),
            Ok(Expiry::At(now + Duration::from_secs(60)))
        );
        let absolute = Ok(Expiry::At(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000),
        ));
        assert_eq!(parse(&json!("1900000000"), now), absolute);
        assert_eq!(parse(&json!(1_900_000_000u64), now), absolute);
        // QEMU's "0" is the epoch: long past, so expired at once.
        assert_eq!(
            parse(&json!("0"), now),
            Ok(Expiry::At(SystemTime::UNIX_EPOCH))
        );
    }

    #[test]
    fn other_forms_are_refused_with_the_format() {
        for bad in [
            json!(""),
            json!("+"),
            json!("-5"),
            json!("+ 5"),
            json!("12abc"),
            json!("Never"),
            json!(1.5),
            json!(-3),
            json!(true),
            json!(null),
        ] {
            let err = parse(&bad, t0()).unwrap_err();
            assert!(
                err.contains("since the Unix epoch") || err.contains("whole number"),
                "{bad}: {err}"
            );
        }
        let err = parse(&json!("+99999999999999999999999"), t0()).unwrap_err();
        assert!(err.contains("too far in the future"), "{err}");
        let err = parse(&json!(format!("+{}", u64::MAX)), t0()).unwrap_err();
        assert!(err.contains("too far in the future"), "{err}");
    }

    #[test]
    fn expiries_are_described_for_the_log() {
        let now = t0();
        assert_eq!(describe(Expiry::Never, now), "expires never");
        assert_eq!(describe(Expiry::At(now), now), "expires now");
        assert_eq!(
            describe(Expiry::At(now - Duration::from_secs(5)), now),
            "expires now"
        );
        assert_eq!(
            describe(Expiry::At(now + Duration::from_secs(60)), now),
            "expires in 60 s"
        );
        assert_eq!(unix_secs(now), 1_800_000_000);
    }
}
