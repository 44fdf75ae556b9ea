//! Cron schedules: standard 5-field crontab (`m h dom mon dow`) and 6-field with seconds.
//!
//! The `cron` crate wants a seconds field and numbers weekdays 1-7 from Sunday, while crontab
//! numbers them 0-7 (0 and 7 are Sunday). We translate crontab weekdays into names before handing
//! the expression over, so `1-5` still means Monday to Friday.

use chrono::{DateTime, Utc};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    inner: cron::Schedule,
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let six = match fields.len() {
            5 => {
                let dow = crontab_weekdays(fields[4])?;
                format!("0 {} {} {} {} {}", fields[0], fields[1], fields[2], fields[3], dow)
            }
            6 => {
                let dow = crontab_weekdays(fields[5])?;
                format!(
                    "{} {} {} {} {} {}",
                    fields[0], fields[1], fields[2], fields[3], fields[4], dow
                )
            }
            n => return Err(format!("expected 5 fields (or 6 with seconds), found {n}")),
        };
        let inner = cron::Schedule::from_str(&six).map_err(|e| e.to_string())?;
        if inner.upcoming(Utc).next().is_none() {
            return Err("schedule never fires".into());
        }
        Ok(Schedule {
            expr: expr.to_owned(),
            inner,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.after(&after).next()
    }

    /// Typical gap between two firings, used to bound jitter so that a source polled every minute
    /// is not delayed by several minutes.
    pub fn period(&self, from: DateTime<Utc>) -> chrono::Duration {
        let mut it = self.inner.after(&from);
        match (it.next(), it.next()) {
            (Some(a), Some(b)) => b - a,
            _ => chrono::Duration::days(1),
        }
    }
}

/// Rewrites a crontab weekday field (0-7, names, ranges, lists, steps) with day names, which the
/// `cron` crate reads the same way crontab does.
fn crontab_weekdays(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: usize = s.parse().map_err(|_| format!("bad weekday step `{s}`"))?;
                if step == 0 {
                    return Err("weekday step must be positive".into());
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            (weekday(a)?, weekday(b)?)
        } else {
            let d = weekday(range)?;
            // `5/2` in crontab means "from 5 to the end, every 2".
            if step > 1 { (d, 6) } else { (d, d) }
        };
        if lo > hi {
            return Err(format!("weekday range `{range}` runs backwards"));
        }
        for d in (lo..=hi).step_by(step) {
            days[d % 7] = true;
        }
    }
    let names: Vec<&str> = (0..7).filter(|&d| days[d]).map(|d| DAY_NAMES[d]).collect();
    Ok(names.join(","))
}

/// A crontab weekday: 0-7 (7 is Sunday again, kept as 7 so that `5-7` is a valid range) or a name.
fn weekday(s: &str) -> Result<usize, String> {
    if let Ok(n) = s.parse::<usize>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!("weekday `{s}` out of range 0-7"))
        };
    }
    let upper = s.to_ascii_uppercase();
    DAY_NAMES
        .iter()
        .position(|d| upper.starts_with(d))
        .ok_or_else(|| format!("unknown weekday `{s}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Weekday};

    #[test]
    fn five_fields_are_crontab() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 10, 2, 30).unwrap();
        assert_eq!(
            s.next_after(t).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 10, 5, 0).unwrap()
        );
        assert_eq!(s.period(t), chrono::Duration::minutes(5));
    }

    #[test]
    fn crontab_weekday_numbers_mean_what_crontab_says() {
        // 2026-01-03 is a Saturday; "1-5" must skip to Monday the 5th.
        let s = Schedule::parse("0 9 * * 1-5").unwrap();
        let sat = Utc.with_ymd_and_hms(2026, 1, 3, 12, 0, 0).unwrap();
        let next = s.next_after(sat).unwrap();
        assert_eq!(next.weekday(), Weekday::Mon);
        let sun = Schedule::parse("0 9 * * 0").unwrap().next_after(sat).unwrap();
        assert_eq!(sun.weekday(), Weekday::Sun);
        let sun7 = Schedule::parse("0 9 * * 7").unwrap().next_after(sat).unwrap();
        assert_eq!(sun7, sun);
        let fri_to_sun = Schedule::parse("0 9 * * 5-7").unwrap().next_after(sat).unwrap();
        assert_eq!(fri_to_sun.weekday(), Weekday::Sun);
    }

    #[test]
    fn six_fields_have_seconds() {
        let s = Schedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(s.period(Utc::now()), chrono::Duration::seconds(10));
    }

    #[test]
    fn bad_expressions_are_refused() {
        for bad in ["", "* * *", "61 * * * *", "* * * * 9", "* 25 * * *", "a b c d e"] {
            assert!(Schedule::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
