//! A reader of DER (X.690), just what certificates, keys and key stores need: one
//! tag-length-value at a time, every length checked against the bytes that remain before a
//! slice is taken. Nothing is allocated; values borrow the input.

use std::fmt;

pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const UTF8_STRING: u8 = 0x0c;
pub const PRINTABLE_STRING: u8 = 0x13;
pub const IA5_STRING: u8 = 0x16;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const BOOLEAN: u8 = 0x01;

/// Context-specific constructed tag `[n]`.
pub const fn explicit(n: u8) -> u8 {
    0xa0 | n
}

/// Bytes that are not the DER expected, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError(pub String);

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, DerError>;

fn error<T>(what: impl Into<String>) -> Result<T> {
    Err(DerError(what.into()))
}

/// A cursor over DER values.
#[derive(Debug, Clone, Copy)]
pub struct Der<'a> {
    rest: &'a [u8],
}

/// One value: its tag, its contents, and the whole encoding (tag and length included).
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub whole: &'a [u8],
}

impl<'a> Der<'a> {
    pub fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next value, whatever its tag (single-byte tags; definite lengths only).
    pub fn any(&mut self) -> Result<Tlv<'a>> {
        let all = self.rest;
        let [tag, first, ..] = *all else { return error("a value is cut short") };
        if tag & 0x1f == 0x1f {
            return error(format!("tag {tag:#04x} uses the multi-byte form, which no field here has"));
        }
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 {
                return error("an indefinite length (BER, not DER)");
            }
            if n > 4 || all.len() < 2 + n {
                return error("a length field is cut short or too long");
            }
            let len = all[2..2 + n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        if len > all.len() - header {
            return error(format!("a value of {len} bytes where {} remain", all.len() - header));
        }
        let whole = &all[..header + len];
        self.rest = &all[header + len..];
        Ok(Tlv { tag, value: &whole[header..], whole })
    }

    /// The next value, which must have `tag`.
    pub fn read(&mut self, tag: u8) -> Result<Tlv<'a>> {
        let tlv = self.any()?;
        if tlv.tag != tag {
            return error(format!("tag {:#04x} where {tag:#04x} was expected", tlv.tag));
        }
        Ok(tlv)
    }

    /// The contents of the next value, which must have `tag`.
    pub fn value(&mut self, tag: u8) -> Result<&'a [u8]> {
        self.read(tag).map(|t| t.value)
    }

    /// The next value's contents as a cursor (a SEQUENCE or SET).
    pub fn nested(&mut self, tag: u8) -> Result<Der<'a>> {
        self.value(tag).map(Der::new)
    }

    /// The next value if it has `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>> {
        if self.peek() == Some(tag) { self.read(tag).map(Some) } else { Ok(None) }
    }

    /// A small non-negative INTEGER.
    pub fn small_uint(&mut self) -> Result<u64> {
        let v = self.value(INTEGER)?;
        let v = match v {
            [0, rest @ ..] => rest,
            v => v,
        };
        if v.len() > 8 || v.first().is_some_and(|b| b & 0x80 != 0) && v.len() == 8 {
            return error("an integer out of range");
        }
        Ok(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A BIT STRING without unused bits: its bytes.
    pub fn bits(&mut self) -> Result<&'a [u8]> {
        match self.value(BIT_STRING)? {
            [0, bytes @ ..] => Ok(bytes),
            _ => error("a bit string with unused bits"),
        }
    }
}

/// Dotted-decimal text of an OID's contents, for messages.
pub fn oid_text(oid: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = value.min(80) / 40;
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        } else if i == oid.len() - 1 {
            parts.push("?".into());
        }
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_before_slicing() {
        assert_eq!(Der::new(&[0x30, 0x03, 1, 2]).any().unwrap_err().0, "a value of 3 bytes where 2 remain");
        assert_eq!(
            Der::new(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).any().unwrap_err().0,
            "a value of 4294967295 bytes where 0 remain"
        );
        assert!(Der::new(&[0x30, 0x80, 0, 0]).any().unwrap_err().0.contains("indefinite"));
        assert!(Der::new(&[0x30]).any().is_err());
        let t = Der::new(&[0x30, 0x81, 0x02, 7, 8, 9]).any().unwrap();
        assert_eq!((t.tag, t.value, t.whole.len()), (0x30, &[7, 8][..], 5));
    }

    #[test]
    fn integers_bits_and_oids() {
        assert_eq!(Der::new(&[0x02, 0x02, 0x00, 0xff]).small_uint().unwrap(), 255);
        assert_eq!(Der::new(&[0x03, 0x03, 0x00, 0xab, 0xcd]).bits().unwrap(), &[0xab, 0xcd]);
        assert_eq!(oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]), "1.2.840.113549.1.1.11");
        assert_eq!(oid_text(&[0x55, 0x1d, 0x11]), "2.5.29.17");
    }
}
