//! containerd's Version API (`/containerd.services.version.v1.Version/Version`) on its socket: the
//! version of the running containerd, asked — not run. One gRPC call over HTTP/2 without TLS
//! (h2c), written out by hand: the connection preface, an empty SETTINGS frame, one HEADERS frame
//! (HPACK literals, no Huffman coding, no dynamic table), one DATA frame with the empty request;
//! then frames are read until the response's DATA frame (the protobuf `VersionResponse`, whose
//! field 1 is the version string). Any other outcome (an error status, a timeout, a server that
//! does not speak HTTP/2) is None.
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const PATH: &str = "/containerd.services.version.v1.Version/Version";
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const RST_STREAM: u8 = 0x3;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
const PADDED: u8 = 0x8;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK string literal, without Huffman coding (lengths here stay below 127).
fn literal(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// The request's header block: indexed `:method: POST` and `:scheme: http`, the rest literals
/// without indexing (with an indexed name where the static table has one).
fn header_block() -> Vec<u8> {
    let mut h = vec![0x83, 0x86]; // :method POST, :scheme http
    h.push(0x04); // :path, literal value
    literal(&mut h, PATH);
    h.push(0x01); // :authority
    literal(&mut h, "localhost");
    h.push(0x0f);
    h.push(0x10); // content-type (static index 31 = 15 + 16)
    literal(&mut h, "application/grpc");
    h.push(0x00); // te: a new name
    literal(&mut h, "te");
    literal(&mut h, "trailers");
    h
}

/// The running containerd's version (`1.7.24`, `v2.1.9` as it reports it), or None.
pub fn version(socket: &Path, timeout: Duration) -> Option<String> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    out.extend(frame(HEADERS, END_HEADERS, 1, &header_block()));
    out.extend(frame(DATA, END_STREAM, 1, &[0, 0, 0, 0, 0])); // an empty message
    s.write_all(&out).ok()?;
    let mut message = Vec::new();
    // A bounded number of frames: the server's SETTINGS (+ ACK), WINDOW_UPDATE, HEADERS, DATA.
    for _ in 0..32 {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        if len > 1 << 20 {
            return None;
        }
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).ok()?;
        match kind {
            SETTINGS if flags & ACK == 0 => {
                s.write_all(&frame(SETTINGS, ACK, 0, &[])).ok()?;
            }
            GOAWAY => return None,
            RST_STREAM if stream == 1 => return None,
            DATA if stream == 1 => {
                let body = if flags & PADDED != 0 {
                    let pad = *payload.first()? as usize;
                    payload.get(1..payload.len().checked_sub(pad)?)?
                } else {
                    &payload[..]
                };
                message.extend_from_slice(body);
                if let Some(v) = parse_response(&message) {
                    return Some(v);
                }
                if flags & END_STREAM != 0 {
                    return None;
                }
            }
            HEADERS if stream == 1 && flags & END_STREAM != 0 => return None, // trailers only
            _ => {}
        }
    }
    None
}

/// A whole gRPC message (1-byte flag, 4-byte length, protobuf) of `VersionResponse`: field 1.
fn parse_response(m: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(m.get(1..5)?.try_into().ok()?) as usize;
    let mut pb = m.get(5..5 + len)?;
    while !pb.is_empty() {
        let (key, rest) = varint(pb)?;
        let (n, rest) = match key & 7 {
            2 => varint(rest)?,
            0 => {
                pb = varint(rest)?.1;
                continue;
            }
            _ => return None,
        };
        let value = rest.get(..n as usize)?;
        if key >> 3 == 1 {
            return String::from_utf8(value.to_vec()).ok();
        }
        pb = &rest[n as usize..];
    }
    None
}

fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_field_of_a_grpc_message() {
        // VersionResponse{version: "1.7.24", revision: "abc"}
        let pb = b"\x0a\x061.7.24\x12\x03abc";
        let mut m = vec![0, 0, 0, 0, pb.len() as u8];
        m.extend_from_slice(pb);
        assert_eq!(parse_response(&m).as_deref(), Some("1.7.24"));
        // revision first
        let pb = b"\x12\x03abc\x0a\x04v2.1";
        let mut m = vec![0, 0, 0, 0, pb.len() as u8];
        m.extend_from_slice(pb);
        assert_eq!(parse_response(&m).as_deref(), Some("v2.1"));
        assert_eq!(parse_response(&[0, 0, 0, 0, 9, 0x0a]), None, "cut short");
    }

    #[test]
    fn a_server_that_says_nothing_is_no_version() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(version(&sock, Duration::from_millis(200)), None);
    }
}
