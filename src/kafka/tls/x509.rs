//! The parts of an X.509 certificate (RFC 5280) that a chain check needs, read from DER
//! without allocation: for the certificates webpki refuses (version 1, or no
//! subjectAltName) but OpenSSL and Java accept, and for matching a client key to its
//! certificate.

use super::der::{self, Der, DerError, Result};

const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const OID_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// Extensions understood enough to ignore when marked critical.
const OID_NAME_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x1e];
const OID_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
const OID_AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
/// id-kp-serverAuth and anyExtendedKeyUsage.
pub const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const EKU_ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

/// A certificate's fields, borrowing its DER.
#[derive(Debug, Clone)]
pub struct Cert<'a> {
    /// 1, 2 or 3.
    pub version: u64,
    /// The signed part, whole (what the issuer's signature covers).
    pub tbs: &'a [u8],
    /// The signature's AlgorithmIdentifier contents, and the signature's bytes.
    pub signature_alg: &'a [u8],
    pub signature: &'a [u8],
    /// The issuer's and subject's Name contents (compared byte for byte, as webpki does).
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// Validity, in seconds since 1970.
    pub not_before: i64,
    pub not_after: i64,
    /// The SubjectPublicKeyInfo, whole; its AlgorithmIdentifier contents; the key's bytes.
    pub spki: &'a [u8],
    pub spki_contents: &'a [u8],
    pub key_alg: &'a [u8],
    pub key: &'a [u8],
    /// basicConstraints cA (`None`: no such extension).
    pub ca: Option<bool>,
    /// keyUsage bits, first bit (digitalSignature) as the highest of 16 (`None`: absent).
    pub key_usage: Option<u16>,
    /// Whether extendedKeyUsage is absent or allows a TLS server.
    pub server_auth: bool,
    /// subjectAltName, when present: its DNS names and IP addresses.
    pub san: Option<San<'a>>,
    /// The OID of a critical extension this reader does not know.
    pub unknown_critical: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Default)]
pub struct San<'a> {
    pub dns: Vec<&'a [u8]>,
    pub ip: Vec<&'a [u8]>,
}

impl<'a> Cert<'a> {
    pub fn parse(der: &'a [u8]) -> Result<Cert<'a>> {
        let mut outer = Der::new(der);
        let mut cert = outer.nested(der::SEQUENCE)?;
        if !outer.is_empty() {
            return Err(DerError("bytes after the certificate".into()));
        }
        let tbs_tlv = cert.read(der::SEQUENCE)?;
        let signature_alg = cert.value(der::SEQUENCE)?;
        let signature = cert.bits()?;
        let mut tbs = Der::new(tbs_tlv.value);
        let version = match tbs.optional(der::explicit(0))? {
            Some(v) => Der::new(v.value).small_uint()? + 1,
            None => 1,
        };
        if !(1..=3).contains(&version) {
            return Err(DerError(format!("version {version}")));
        }
        tbs.read(der::INTEGER)?; // serial
        let inner_alg = tbs.value(der::SEQUENCE)?;
        if inner_alg != signature_alg {
            return Err(DerError("the signed and the outer signature algorithms differ".into()));
        }
        let issuer = tbs.value(der::SEQUENCE)?;
        let mut validity = tbs.nested(der::SEQUENCE)?;
        let not_before = time(&mut validity)?;
        let not_after = time(&mut validity)?;
        let subject = tbs.value(der::SEQUENCE)?;
        let spki_tlv = tbs.read(der::SEQUENCE)?;
        let mut spki = Der::new(spki_tlv.value);
        let key_alg = spki.value(der::SEQUENCE)?;
        let key = spki.bits()?;
        let mut c = Cert {
            version,
            tbs: tbs_tlv.whole,
            signature_alg,
            signature,
            issuer,
            subject,
            not_before,
            not_after,
            spki: spki_tlv.whole,
            spki_contents: spki_tlv.value,
            key_alg,
            key,
            ca: None,
            key_usage: None,
            server_auth: true,
            san: None,
            unknown_critical: None,
        };
        tbs.optional(0x81)?; // issuerUniqueID
        tbs.optional(0x82)?; // subjectUniqueID
        if let Some(ext) = tbs.optional(der::explicit(3))? {
            if version != 3 {
                return Err(DerError("extensions in a certificate before version 3".into()));
            }
            c.extensions(Der::new(ext.value).nested(der::SEQUENCE)?)?;
        }
        Ok(c)
    }

    fn extensions(&mut self, mut list: Der<'a>) -> Result<()> {
        while !list.is_empty() {
            let mut ext = list.nested(der::SEQUENCE)?;
            let oid = ext.value(der::OID)?;
            let critical = match ext.optional(der::BOOLEAN)? {
                Some(b) => b.value != [0],
                None => false,
            };
            let value = ext.value(der::OCTET_STRING)?;
            let mut v = Der::new(value);
            match oid {
                OID_BASIC_CONSTRAINTS => {
                    let mut bc = v.nested(der::SEQUENCE)?;
                    self.ca = Some(bc.optional(der::BOOLEAN)?.is_some_and(|b| b.value != [0]));
                }
                OID_KEY_USAGE => {
                    let bits = v.value(der::BIT_STRING)?;
                    let bytes = bits.get(1..).unwrap_or_default();
                    let first = u16::from(bytes.first().copied().unwrap_or(0)) << 8;
                    self.key_usage = Some(first | u16::from(bytes.get(1).copied().unwrap_or(0)));
                }
                OID_EXT_KEY_USAGE => {
                    let mut purposes = v.nested(der::SEQUENCE)?;
                    let mut ok = false;
                    while !purposes.is_empty() {
                        let p = purposes.value(der::OID)?;
                        ok |= p == EKU_SERVER_AUTH || p == EKU_ANY;
                    }
                    self.server_auth = ok;
                }
                OID_SUBJECT_ALT_NAME => {
                    let mut names = v.nested(der::SEQUENCE)?;
                    let mut san = San::default();
                    while !names.is_empty() {
                        let name = names.any()?;
                        match name.tag {
                            0x82 => san.dns.push(name.value),
                            0x87 => san.ip.push(name.value),
                            _ => {}
                        }
                    }
                    self.san = Some(san);
                }
                OID_NAME_CONSTRAINTS | OID_SUBJECT_KEY_ID | OID_AUTHORITY_KEY_ID => {}
                _ if critical => self.unknown_critical = self.unknown_critical.or(Some(oid)),
                _ => {}
            }
        }
        Ok(())
    }

    /// The subject's (last) commonName, as text.
    pub fn common_name(&self) -> Option<&'a str> {
        name_cn(self.subject)
    }

    /// Whether this certificate signed others, as RFC 5280 and OpenSSL judge it: version 3 with
    /// basicConstraints cA, and keyCertSign when keyUsage is given.
    pub fn may_sign_certificates(&self) -> bool {
        self.version == 3 && self.ca == Some(true) && self.key_usage.is_none_or(|u| u & 0x0400 != 0)
    }
}

/// The last commonName of a Name's contents.
pub fn name_cn(name: &[u8]) -> Option<&str> {
    let mut rdns = Der::new(name);
    let mut found = None;
    while !rdns.is_empty() {
        let mut set = rdns.nested(der::SET).ok()?;
        while !set.is_empty() {
            let mut atv = set.nested(der::SEQUENCE).ok()?;
            let oid = atv.value(der::OID).ok()?;
            let value = atv.any().ok()?;
            if oid == OID_COMMON_NAME
                && matches!(value.tag, der::UTF8_STRING | der::PRINTABLE_STRING | der::IA5_STRING | 0x14)
            {
                found = std::str::from_utf8(value.value).ok();
            }
        }
    }
    found
}

/// UTCTime (YYMMDDHHMMSSZ, 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) → Unix seconds.
fn time(d: &mut Der<'_>) -> Result<i64> {
    let t = d.any()?;
    let text = t.value;
    let (year, rest) = match (t.tag, text.len()) {
        (der::UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (der::GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return Err(DerError("a validity time that is neither UTCTime nor GeneralizedTime in UTC".into())),
    };
    if rest[10] != b'Z' {
        return Err(DerError("a validity time not in UTC".into()));
    }
    let (month, day) = (digits(&rest[0..2])?, digits(&rest[2..4])?);
    let (h, m, s) = (digits(&rest[4..6])?, digits(&rest[6..8])?, digits(&rest[8..10])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return Err(DerError("a validity time out of range".into()));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn digits(b: &[u8]) -> Result<i64> {
    b.iter().try_fold(0i64, |acc, c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + i64::from(c - b'0'))
        } else {
            Err(DerError("a time with non-digits".into()))
        }
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM:SS UTC` of Unix seconds, for messages (the `time` crate's calendar).
pub fn utc_text(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("{secs} s after 1970 (beyond the calendar's years)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(days_from_civil(2026, 1, 1) * 86_400 + 3661), "2026-01-01 01:01:01 UTC");
        assert_eq!(utc_text(days_from_civil(2024, 2, 29) * 86_400), "2024-02-29 00:00:00 UTC");
        let mut d = Der::new(b"\x17\x0d491231235959Z");
        assert_eq!(utc_text(time(&mut d).unwrap()), "2049-12-31 23:59:59 UTC");
        let mut d = Der::new(b"\x18\x0f20500101000000Z");
        assert_eq!(utc_text(time(&mut d).unwrap()), "2050-01-01 00:00:00 UTC");
    }
}
