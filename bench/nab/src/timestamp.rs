//! Timestamps as NAB writes them (`2014-02-19 10:50:00` in data files, with `.000000` in the
//! window labels): parsed into an ordered value so both spellings of one instant compare equal,
//! without a date-time dependency.

use std::fmt;
use std::str::FromStr;

use crate::error::NabError;

/// One instant of a NAB series, to the microsecond; ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
}

impl Timestamp {
    /// Builds a timestamp from its calendar fields (no calendar check beyond field ranges), so
    /// tests and detectors can make series without formatting strings.
    pub fn new(
        (year, month, day): (i32, u8, u8),
        (hour, minute, second): (u8, u8, u8),
        micros: u32,
    ) -> Result<Self, NabError> {
        let valid = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second <= 60
            && micros < 1_000_000;
        if valid {
            Ok(Self {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            })
        } else {
            Err(NabError::Timestamp(format!(
                "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}"
            )))
        }
    }
}

impl Timestamp {
    /// Milliseconds since 1970-01-01 00:00 (NAB's times are naive; read as UTC), for detectors
    /// that take epoch times.
    pub fn epoch_millis(&self) -> i64 {
        // Days from the civil date (Howard Hinnant's `days_from_civil`).
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let seconds = days * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        seconds * 1_000 + i64::from(self.micros / 1_000)
    }
}

fn number<T: FromStr>(text: &str, digits: usize) -> Option<T> {
    if text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

fn parse(text: &str) -> Option<Timestamp> {
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut date_parts = date.split('-');
    let year = number(date_parts.next()?, 4)?;
    let month = number(date_parts.next()?, 2)?;
    let day = number(date_parts.next()?, 2)?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let mut clock_parts = clock.split(':');
    let hour = number(clock_parts.next()?, 2)?;
    let minute = number(clock_parts.next()?, 2)?;
    let second = number(clock_parts.next()?, 2)?;
    if date_parts.next().is_some() || clock_parts.next().is_some() {
        return None;
    }
    let micros = match fraction {
        None => 0,
        Some(digits) if (1..=6).contains(&digits.len()) => {
            let value: u32 = number(digits, digits.len())?;
            let scale = 10u32.checked_pow(u32::try_from(6 - digits.len()).ok()?)?;
            value.checked_mul(scale)?
        }
        Some(_) => return None,
    };
    Timestamp::new((year, month, day), (hour, minute, second), micros).ok()
}

impl FromStr for Timestamp {
    type Err = NabError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text.trim()).ok_or_else(|| NabError::Timestamp(text.to_owned()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_label_has_microseconds_should_equal_the_data_spelling() {
        let label: Timestamp = "2014-02-19 10:50:00.000000".parse().unwrap();
        let data: Timestamp = "2014-02-19 10:50:00".parse().unwrap();
        assert_eq!(label, data);
        assert_eq!(data.to_string(), "2014-02-19 10:50:00");
    }

    #[test]
    fn when_comparing_should_order_chronologically() {
        let a: Timestamp = "2013-12-31 23:59:59.5".parse().unwrap();
        let b: Timestamp = "2014-01-01 00:00:00".parse().unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "2013-12-31 23:59:59.500000");
    }

    #[test]
    fn when_text_is_not_a_timestamp_should_refuse_it() {
        for bad in [
            "",
            "2014-02-19",
            "2014-2-19 10:50:00",
            "2014-13-01 00:00:00",
            "x y",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn when_converted_to_epoch_millis_should_count_from_1970() {
        let epoch: Timestamp = "1970-01-01 00:00:00".parse().unwrap();
        assert_eq!(epoch.epoch_millis(), 0);
        let leap: Timestamp = "2014-02-19 10:50:00.250".parse().unwrap();
        assert_eq!(leap.epoch_millis(), 1_392_807_000_250);
        let before: Timestamp = "1969-12-31 23:59:59".parse().unwrap();
        assert_eq!(before.epoch_millis(), -1_000);
    }
}
