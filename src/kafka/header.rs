//! The request header, written straight into the connection's buffer: every request starts with
//! one, so every sale pays for it. kafka-protocol's `RequestHeader` cost a clone of the shared
//! client id (two atomic updates) and a generic encoder; the bytes are the same, and the tests
//! encode both ways and compare.
//!
//! Layout (Kafka protocol guide, request header): v0 is request_api_key int16,
//! request_api_version int16, correlation_id int32; v1 adds client_id, a nullable string with an
//! int16 length (never a compact string, even in v2); v2 adds the tagged fields (none here: a
//! zero).

/// Appends the request header of version `header_version` to `buf`. A client id longer than a
/// string's int16 length allows is refused (kafka-protocol refused it too).
pub fn write(
    buf: &mut Vec<u8>,
    (api_key, api_version): (i16, i16),
    correlation_id: i32,
    client_id: &str,
    header_version: i16,
) -> Result<(), String> {
    buf.extend_from_slice(&api_key.to_be_bytes());
    buf.extend_from_slice(&api_version.to_be_bytes());
    buf.extend_from_slice(&correlation_id.to_be_bytes());
    if header_version >= 1 {
        let len = i16::try_from(client_id.len())
            .map_err(|_| format!("a client id of {} bytes is longer than a request header allows", client_id.len()))?;
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(client_id.as_bytes());
    }
    if header_version >= 2 {
        buf.push(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiKey, RequestHeader};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn theirs(api: ApiKey, version: i16, id: i32, client_id: &str) -> Vec<u8> {
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
        let mut buf = Vec::new();
        header.encode(&mut buf, api.request_header_version(version)).unwrap();
        buf
    }

    #[test]
    fn the_same_bytes_as_kafka_protocol_for_every_header_version() {
        let long = "c".repeat(300);
        let cases = [
            (ApiKey::Produce, 3),  // header v1
            (ApiKey::Produce, 9),  // header v2 (flexible)
            (ApiKey::Produce, 12), // header v2
            (ApiKey::ApiVersions, 0),
            (ApiKey::ApiVersions, 3), // header v2
            (ApiKey::Metadata, 12),
        ];
        for (api, version) in cases {
            for client_id in ["pos-producer", "", long.as_str()] {
                for id in [0, 1, -1, i32::MAX] {
                    let mut ours = vec![9];
                    write(&mut ours, (api as i16, version), id, client_id, api.request_header_version(version))
                        .unwrap();
                    assert_eq!(
                        &ours[1..],
                        &theirs(api, version, id, client_id)[..],
                        "{api:?} v{version} {client_id:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn header_v0_has_no_client_id() {
        let mut buf = Vec::new();
        write(&mut buf, (7, 0), 0x0102_0304, "pos-producer", 0).unwrap();
        assert_eq!(buf, [0, 7, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_client_id_too_long_for_the_header_is_refused() {
        let mut buf = Vec::new();
        let long = "c".repeat(40_000);
        let err = write(&mut buf, (0, 9), 1, &long, 2).unwrap_err();
        assert!(err.contains("40000 bytes"), "{err}");
        assert!(write(&mut buf, (0, 9), 1, &"c".repeat(32_767), 2).is_ok());
    }
}
