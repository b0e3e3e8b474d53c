//! Small pieces both HTTP/1.1 codecs (the client-facing fast path and the upstream client)
//! share.

use std::io::{self, IoSlice};

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes `parts` in order, in as few system calls as the socket allows (a head, the policy's
/// lines, a body piece and a chunk trailer leave together, none copied next to another).
pub(crate) async fn write_all_parts<T, const N: usize>(
    io: &mut T,
    mut parts: [&[u8]; N],
) -> io::Result<()>
where
    T: AsyncWrite + Unpin,
{
    let mut first = 0;
    loop {
        while parts.get(first).is_some_and(|p| p.is_empty()) {
            first += 1;
        }
        let Some(rest) = parts.get_mut(first..).filter(|r| !r.is_empty()) else {
            return Ok(());
        };
        let slices: [IoSlice<'_>; N] =
            std::array::from_fn(|i| IoSlice::new(rest.get(i).copied().unwrap_or_default()));
        let mut n = io.write_vectored(&slices[..rest.len()]).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        for part in rest.iter_mut() {
            let used = n.min(part.len());
            *part = &part[used..];
            n -= used;
        }
    }
}

/// Where a parsed header's name and value sit in the buffer that starts at `base`, so they can
/// be taken from the frozen head once the parser's borrow ends. Heads are capped far below
/// 4 GiB, so the offsets fit.
pub(crate) fn header_span(base: *const u8, name: &[u8], value: &[u8]) -> (u32, u32, u32, u32) {
    let ns = name.as_ptr() as usize - base as usize;
    let vs = value.as_ptr() as usize - base as usize;
    (
        ns as u32,
        (ns + name.len()) as u32,
        vs as u32,
        (vs + value.len()) as u32,
    )
}

/// Appends a chunked-encoding size line (`1a2b\r\n`) for a chunk of `len` bytes.
pub(crate) fn chunk_size_line(out: &mut Vec<u8>, len: usize) {
    // Writing into a Vec cannot fail.
    let _ = io::Write::write_fmt(out, format_args!("{len:x}\r\n"));
}

/// `name: value\r\n`. The separators are pushed, not copied: a head has a couple of dozen
/// lines, and a copy call per two-byte separator cost more than the names and values.
#[inline]
pub(crate) fn header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name);
    out.push(b':');
    out.push(b' ');
    out.extend_from_slice(value);
    out.push(b'\r');
    out.push(b'\n');
}
