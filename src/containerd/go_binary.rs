//! What a Go binary says about its own version: its ELF headers and Go build information (and
//! the strings the linker placed in its data), read as bytes and never executed.
use std::path::Path;

/// What a Go binary's build information says about containerd's version.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BuildVersion {
    /// `-X github.com/containerd/containerd[/v2]/version.Version=…` in the recorded `-ldflags`
    /// (Go records them only for builds without `-trimpath`).
    Ldflags(String),
    /// The main module's version when the main module is containerd (not `(devel)`).
    Module { path: String, version: String },
}

/// The containerd version recorded in Go module information (`debug/buildinfo`'s text).
pub(super) fn version_in_modinfo(modinfo: &str) -> Option<BuildVersion> {
    const MODULES: &[&str] = &[
        "github.com/containerd/containerd",
        "github.com/containerd/containerd/v2",
    ];
    for line in modinfo.lines() {
        let Some(flags) = line.strip_prefix("build\t-ldflags=") else {
            continue;
        };
        for module in MODULES {
            let key = format!("{module}/version.Version=");
            if let Some(i) = flags.find(&key) {
                let value: String = flags[i + key.len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '\\'))
                    .collect();
                if !value.is_empty() {
                    return Some(BuildVersion::Ldflags(value));
                }
            }
        }
    }
    modinfo.lines().find_map(|line| {
        let mut f = line.split('\t');
        let (Some("mod"), Some(path), Some(version)) = (f.next(), f.next(), f.next()) else {
            return None;
        };
        (MODULES.contains(&path) && version.starts_with('v')).then(|| BuildVersion::Module {
            path: path.to_string(),
            version: version.to_string(),
        })
    })
}

/// The strings of a Go binary's build information blob.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BuildInfo {
    /// The Go toolchain, e.g. `go1.24.4`.
    pub(super) go: String,
    /// `path`, `mod`, `dep` and `build` lines, framing removed; empty when absent.
    pub(super) modinfo: String,
}

/// `\xff Go buildinf:`, at a 16-byte boundary at the start of `.go.buildinfo`.
const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// Decodes the build information blob found in `data` (Go's `debug/buildinfo` format): the magic,
/// the pointer size, flags (bit 0 big-endian, bit 1 strings inline), then either two
/// varint-length strings at offset 32 (Go 1.18 on) or two pointers to Go strings at offset 16
/// (older Go; `deref` reads a string header at a virtual address).
fn decode_buildinfo(data: &[u8], deref: &dyn Fn(u64) -> Option<Vec<u8>>) -> Option<BuildInfo> {
    let mut at = 0;
    let blob = loop {
        let i = at + find(&data[at..], BUILDINFO_MAGIC)?;
        if i % 16 == 0 && data.len() - i >= 32 {
            break &data[i..];
        }
        at = (i + 16) & !15;
        if at >= data.len() {
            return None;
        }
    };
    let ptr_size = usize::from(blob[14]);
    let flags = blob[15];
    let (go, modinfo) = if flags & 2 != 0 {
        let (go, rest) = varint_bytes(&blob[32..])?;
        let (modinfo, _) = varint_bytes(rest)?;
        (go.to_vec(), modinfo.to_vec())
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return None;
        }
        let ptr = |at: usize| uint(&blob[at..at + ptr_size], flags & 1 != 0);
        (
            deref(ptr(16))?,
            deref(ptr(16 + ptr_size)).unwrap_or_default(),
        )
    };
    if go.is_empty() {
        return None;
    }
    // cmd/go frames the text with 16 (non-UTF-8) bytes on either side.
    let m = &modinfo;
    let modinfo = if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        String::from_utf8_lossy(&m[16..m.len() - 16]).into_owned()
    } else {
        String::new()
    };
    let go = String::from_utf8_lossy(&go).into_owned();
    Some(BuildInfo { go, modinfo })
}

/// A uvarint length, then that many bytes; and what follows.
fn varint_bytes(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut n, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let b = *data.get(i)?;
        i += 1;
        if shift > 63 {
            return None;
        }
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let end = i.checked_add(usize::try_from(n).ok()?)?;
    let bytes = data.get(i..end)?;
    Some((bytes, &data[end..]))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An unsigned integer of 1 to 8 bytes.
fn uint(b: &[u8], big_endian: bool) -> u64 {
    let fold = |n: u64, x: &u8| (n << 8) | u64::from(*x);
    if big_endian {
        b.iter().fold(0, fold)
    } else {
        b.iter().rev().fold(0, fold)
    }
}

/// `1.6.20~ds1`, `v2.1.4`, `2.1.9+unknown`, `1.6.20~ds1-1+deb12u3`: digits, dots, a suffix.
fn looks_like_version(s: &str) -> bool {
    let t = s.strip_prefix('v').unwrap_or(s);
    let core = t.split(['~', '+', '-']).next().unwrap_or("");
    let nums: Vec<&str> = core.split('.').collect();
    (2..=3).contains(&nums.len())
        && nums
            .iter()
            .all(|n| (1..=4).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A loadable segment of an ELF file.
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
    flags: u32,
}

const PF_X: u32 = 1;
const PF_W: u32 = 2;

/// An ELF file opened for reading its headers and a few of its bytes (never executed).
pub(super) struct Elf {
    file: std::fs::File,
    wide: bool,
    big: bool,
    segments: Vec<Segment>,
    /// `.go.buildinfo`: file offset and size.
    buildinfo_section: Option<(u64, u64)>,
}

/// `len` bytes at `offset`; None past the end or for more than 64 MiB.
fn read_at(file: &std::fs::File, offset: u64, len: u64) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    if len > 64 << 20 {
        return None;
    }
    let mut buf = vec![0; usize::try_from(len).ok()?];
    let mut f = file;
    f.seek(SeekFrom::Start(offset)).ok()?;
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

impl Elf {
    pub(super) fn open(path: &Path) -> Option<Elf> {
        let file = std::fs::File::open(path).ok()?;
        let h = read_at(&file, 0, 64)?;
        if &h[..4] != b"\x7fELF" {
            return None;
        }
        let wide = match h[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big = match h[5] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let u = |at: usize, n: usize| uint(&h[at..at + n], big);
        let w = if wide { 8 } else { 4 };
        // e_phoff, e_shoff, then e_flags, e_ehsize, and the entry sizes and counts.
        let (phoff, shoff) = (u(0x18 + w, w), u(0x18 + 2 * w, w));
        let tail = 0x18 + 3 * w + 6;
        let (phentsize, phnum) = (u(tail, 2), u(tail + 2, 2));
        let (shentsize, shnum, shstrndx) = (u(tail + 4, 2), u(tail + 6, 2), u(tail + 8, 2));

        let mut segments = Vec::new();
        let phdrs = read_at(&file, phoff, phentsize.checked_mul(phnum)?)?;
        for ph in phdrs.chunks_exact(usize::try_from(phentsize).ok()?.max(1)) {
            let u = |at: usize, n: usize| ph.get(at..at + n).map(|b| uint(b, big));
            if u(0, 4)? != 1 {
                continue; // not PT_LOAD
            }
            segments.push(if wide {
                Segment {
                    flags: u32::try_from(u(4, 4)?).ok()?,
                    offset: u(8, 8)?,
                    vaddr: u(0x10, 8)?,
                    filesz: u(0x20, 8)?,
                }
            } else {
                Segment {
                    offset: u(4, 4)?,
                    vaddr: u(8, 4)?,
                    filesz: u(0x10, 4)?,
                    flags: u32::try_from(u(0x18, 4)?).ok()?,
                }
            });
        }

        let buildinfo_section = (|| {
            let shdrs = read_at(&file, shoff, shentsize.checked_mul(shnum)?)?;
            let shdrs: Vec<&[u8]> = shdrs
                .chunks_exact(usize::try_from(shentsize).ok()?.max(1))
                .collect();
            // sh_offset and sh_size, after sh_name, sh_type, sh_flags and sh_addr.
            let place = |sh: &[u8]| {
                let at = 8 + 2 * w;
                sh.get(at..at + 2 * w)
                    .map(|b| (uint(&b[..w], big), uint(&b[w..], big)))
            };
            let (stroff, strsize) = place(shdrs.get(usize::try_from(shstrndx).ok()?)?)?;
            let names = read_at(&file, stroff, strsize.min(1 << 20))?;
            shdrs.iter().find_map(|sh| {
                let name = usize::try_from(uint(sh.get(..4)?, big)).ok()?;
                let rest = names.get(name..)?;
                let end = rest.iter().position(|&b| b == 0)?;
                (&rest[..end] == b".go.buildinfo")
                    .then(|| place(sh))
                    .flatten()
            })
        })();
        Some(Elf {
            file,
            wide,
            big,
            segments,
            buildinfo_section,
        })
    }

    /// The file offset of a virtual address, with how many bytes of the segment follow it.
    fn offset_of(&self, vaddr: u64) -> Option<(u64, u64)> {
        self.segments.iter().find_map(|s| {
            let into = vaddr.checked_sub(s.vaddr)?;
            (into < s.filesz).then(|| (s.offset + into, s.filesz - into))
        })
    }

    /// `len` bytes at a virtual address, as text.
    fn string_at(&self, vaddr: u64, len: u64) -> Option<String> {
        String::from_utf8(self.bytes_at(vaddr, len)?).ok()
    }

    /// `len` bytes at a virtual address.
    fn bytes_at(&self, vaddr: u64, len: u64) -> Option<Vec<u8>> {
        let (offset, left) = self.offset_of(vaddr)?;
        if len > left {
            return None;
        }
        read_at(&self.file, offset, len)
    }

    fn ptr_size(&self) -> u64 {
        if self.wide { 8 } else { 4 }
    }

    /// The Go build information: in `.go.buildinfo`, else at the start of the first writable,
    /// non-executable segment (where Go's `debug/buildinfo` looks too).
    pub(super) fn build_info(&self) -> Option<BuildInfo> {
        let (offset, size) = self.buildinfo_section.or_else(|| {
            self.segments
                .iter()
                .find(|s| s.flags & (PF_X | PF_W) == PF_W)
                .map(|s| (s.offset, s.filesz))
        })?;
        let data = read_at(&self.file, offset, size.min(1 << 20))?;
        // Go before 1.18: pointers to string headers (pointer, length).
        let deref = |addr: u64| {
            let p = self.ptr_size();
            let (off, left) = self.offset_of(addr)?;
            if left < 2 * p {
                return None;
            }
            let h = read_at(&self.file, off, 2 * p)?;
            let n = usize::try_from(p).ok()?;
            self.bytes_at(
                uint(&h[..n], self.big),
                uint(&h[n..], self.big).min(1 << 20),
            )
        };
        decode_buildinfo(&data, &deref)
    }

    /// containerd's `version.Version` (or `Revision`, when that is a version too) found through
    /// `version.Package`: a Go string header in the writable data pointing at
    /// `github.com/containerd/containerd[/v2]`, followed by the other two variables of that
    /// package. Used when the build information has no version (Debian: `-trimpath`, no module).
    pub(super) fn embedded_version(&self) -> Option<String> {
        const PACKAGE_NAMES: &[&str] = &[
            "github.com/containerd/containerd",
            "github.com/containerd/containerd/v2",
        ];
        let p = usize::try_from(self.ptr_size()).ok()?;
        let header = |buf: &[u8], at: usize| {
            let b = buf.get(at..at + 2 * p)?;
            Some((uint(&b[..p], self.big), uint(&b[p..], self.big)))
        };
        for seg in self.segments.iter().filter(|s| s.flags & PF_W != 0) {
            let Some(buf) = read_at(&self.file, seg.offset, seg.filesz) else {
                continue;
            };
            let mut at = usize::try_from((p as u64 - seg.vaddr % p as u64) % p as u64).ok()?;
            while let Some((addr, len)) = header(&buf, at) {
                at += p;
                if !PACKAGE_NAMES.iter().any(|n| n.len() as u64 == len) {
                    continue;
                }
                let Some(name) = self.string_at(addr, len) else {
                    continue;
                };
                if !PACKAGE_NAMES.contains(&name.as_str()) {
                    continue;
                }
                let package_at = at - p;
                for k in 1..=2 {
                    if let Some((addr, len)) = header(&buf, package_at + k * 2 * p)
                        && (3..=64).contains(&len)
                        && let Some(s) = self.string_at(addr, len)
                        && looks_like_version(&s)
                    {
                        return Some(s);
                    }
                }
            }
        }
        None
    }
}

/// Fake Go binaries, for the tests here and in `installed`.
#[cfg(test)]
pub(super) mod fixtures {
    use super::BUILDINFO_MAGIC;

    /// Go's module information with cmd/go's 16-byte framing on either side.
    pub(crate) fn framed(modinfo: &str) -> Vec<u8> {
        let mut m = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
        m
    }

    /// A Go 1.18+ build information blob (inline strings), 8-byte pointers, little-endian.
    pub(crate) fn buildinfo_blob(go: &str, modinfo: &[u8]) -> Vec<u8> {
        let mut b = BUILDINFO_MAGIC.to_vec();
        b.extend_from_slice(&[8, 2]);
        b.resize(32, 0);
        for s in [go.as_bytes(), modinfo] {
            let mut n = s.len();
            while n >= 0x80 {
                b.push((n as u8) | 0x80);
                n >>= 7;
            }
            b.push(n as u8);
            b.extend_from_slice(s);
        }
        b
    }

    /// Where `fake_elf` loads its data.
    pub(crate) const BASE: u64 = 0x10000;

    /// A little-endian ELF file (64- or 32-bit) with one writable segment holding `data` at
    /// virtual address `BASE`, and no section headers.
    pub(crate) fn fake_elf(wide: bool, data: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        let put = |f: &mut Vec<u8>, v: u64, n: usize| f.extend_from_slice(&v.to_le_bytes()[..n]);
        let (w, ehsize, phentsize) = if wide { (8, 64, 56) } else { (4, 52, 32) };
        f.extend_from_slice(b"\x7fELF");
        f.extend_from_slice(&[if wide { 2 } else { 1 }, 1, 1]);
        f.resize(16, 0);
        put(&mut f, 2, 2); // ET_EXEC
        put(&mut f, 0x3e, 2);
        put(&mut f, 1, 4);
        put(&mut f, 0, w); // entry
        put(&mut f, ehsize, w); // phoff
        put(&mut f, 0, w); // shoff
        put(&mut f, 0, 4); // flags
        for v in [ehsize, phentsize, 1, 64, 0, 0] {
            put(&mut f, v, 2);
        }
        assert_eq!(f.len() as u64, ehsize);
        let (offset, size) = (128u64, data.len() as u64);
        if wide {
            for (v, n) in [
                (1, 4),
                (6, 4),
                (offset, 8),
                (BASE, 8),
                (BASE, 8),
                (size, 8),
                (size, 8),
                (16, 8),
            ] {
                put(&mut f, v, n);
            }
        } else {
            for v in [1, offset, BASE, BASE, size, size, 6, 16] {
                put(&mut f, v, 4);
            }
        }
        f.resize(offset as usize, 0);
        f.extend_from_slice(data);
        f
    }

    /// A fake containerd binary whose build information has this module information.
    pub(crate) fn go_binary(modinfo: &str) -> Vec<u8> {
        fake_elf(true, &buildinfo_blob("go1.24.4", &framed(modinfo)))
    }

    /// Build information without a version, and containerd's `version` package variables in the
    /// data: Package, Revision, Version (in Debian 1.6's order), then something else.
    pub(crate) fn debian_like_binary(wide: bool) -> Vec<u8> {
        let p = if wide { 8 } else { 4 };
        let mut data = buildinfo_blob("go1.19.8", b"");
        data.resize(256, 0);
        let strings_at = 512usize;
        let strings: [&str; 4] = [
            "github.com/containerd/containerd",
            "1.7.24~ds1-6+deb13u1",
            "1.7.24~ds1",
            "api.proto",
        ];
        let mut text = Vec::new();
        for s in strings {
            let addr = BASE + (strings_at + text.len()) as u64;
            data.extend_from_slice(&addr.to_le_bytes()[..p]);
            data.extend_from_slice(&(s.len() as u64).to_le_bytes()[..p]);
            text.extend_from_slice(s.as_bytes());
        }
        data.resize(strings_at, 0);
        data.extend(text);
        fake_elf(wide, &data)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn decodes_build_information() {
        let modinfo = "path\tgithub.com/containerd/containerd/v2/cmd/containerd\nmod\tgithub.com/containerd/containerd/v2\t(devel)\t\nbuild\t-ldflags=\"-X github.com/containerd/containerd/v2/version.Version=v2.1.4 -X github.com/containerd/containerd/v2/version.Revision=abc\"\nbuild\tCGO_ENABLED=1\n";
        let mut data = vec![0u8; 48]; // the blob is found at a 16-byte boundary
        data.extend(buildinfo_blob("go1.24.4", &framed(modinfo)));
        let info = decode_buildinfo(&data, &|_| None).unwrap();
        assert_eq!(info.go, "go1.24.4");
        assert_eq!(info.modinfo, modinfo);
        assert_eq!(
            version_in_modinfo(&info.modinfo),
            Some(BuildVersion::Ldflags("v2.1.4".into()))
        );
        // Not at a 16-byte boundary: not build information.
        assert_eq!(decode_buildinfo(&data[8..], &|_| None), None);
        // No framing (Debian's binaries: a `path` line and `build` settings only).
        let info = decode_buildinfo(&buildinfo_blob("go1.19.8", b""), &|_| None).unwrap();
        assert_eq!(info.modinfo, "");

        assert_eq!(
            version_in_modinfo("mod\tgithub.com/containerd/containerd\tv1.7.27\th1:x=\n"),
            Some(BuildVersion::Module {
                path: "github.com/containerd/containerd".into(),
                version: "v1.7.27".into()
            })
        );
        assert_eq!(
            version_in_modinfo("mod\tgithub.com/containerd/containerd/v2\t(devel)\t\n"),
            None
        );
        assert_eq!(
            version_in_modinfo("mod\tgithub.com/k3s-io/k3s\tv1.33.1\t\n"),
            None
        );
        assert_eq!(
            version_in_modinfo(
                "build\t-ldflags=-X github.com/containerd/containerd/version.Version=1.6.20~ds1\n"
            ),
            Some(BuildVersion::Ldflags("1.6.20~ds1".into()))
        );
    }

    #[test]
    fn tells_version_strings_from_other_strings() {
        assert!(looks_like_version("2.1.9+unknown"));
        assert!(looks_like_version("v1.7.27-5-gabcdef0"));
        assert!(!looks_like_version(
            "06b99ca80cdbfbc6cc8bd567021738c9af2b36ce"
        ));
        assert!(!looks_like_version("api.proto"));
    }

    #[test]
    fn decodes_build_information_of_go_before_1_18() {
        // Header: magic, pointer size 8, flags 0, then pointers to the two string headers.
        let modinfo = framed(
            "path\tgithub.com/containerd/containerd/cmd/containerd\nmod\tgithub.com/containerd/containerd\tv1.6.1\t\n",
        );
        let mut data = BUILDINFO_MAGIC.to_vec();
        data.extend_from_slice(&[8, 0]);
        for at in [32u64, 48] {
            data.extend_from_slice(&(BASE + at).to_le_bytes());
        }
        for (at, len) in [(64u64, 8u64), (72, modinfo.len() as u64)] {
            data.extend_from_slice(&(BASE + at).to_le_bytes());
            data.extend_from_slice(&len.to_le_bytes());
        }
        data.extend_from_slice(b"go1.17.8");
        data.extend_from_slice(&modinfo);
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("containerd");
        std::fs::write(&bin, fake_elf(true, &data)).unwrap();
        let elf = Elf::open(&bin).unwrap();
        let info = elf.build_info().unwrap();
        assert_eq!(info.go, "go1.17.8");
        assert_eq!(
            version_in_modinfo(&info.modinfo),
            Some(BuildVersion::Module {
                path: "github.com/containerd/containerd".into(),
                version: "v1.6.1".into()
            })
        );
    }
}
