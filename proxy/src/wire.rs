//! Small pieces both HTTP/1.1 codecs (the client-facing fast path and the upstream client)
//! share.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::AsyncWrite;

/// Writes `parts` in order, in as few system calls as the socket allows (a head, the policy's
/// lines, a body piece and a chunk trailer leave together, none copied next to another).
/// A poll function rather than an `async fn`, whose state would hold the pieces twice over.
pub(crate) fn write_all_parts<'a, T, const N: usize>(
    io: &'a mut T,
    mut parts: [&'a [u8]; N],
) -> impl Future<Output = io::Result<()>> + 'a
where
    T: AsyncWrite + Unpin,
{
    std::future::poll_fn(move |cx| poll_write_parts(&mut *io, cx, &mut parts))
}

/// Polls the writing of `parts`, each advanced past what has gone out, until all are empty.
pub(crate) fn poll_write_parts<T>(
    io: &mut T,
    cx: &mut Context<'_>,
    parts: &mut [&[u8]],
) -> Poll<io::Result<()>>
where
    T: AsyncWrite + Unpin,
{
    const MAX_SLICES: usize = 8;
    loop {
        let Some(first) = parts.iter().position(|p| !p.is_empty()) else {
            return Poll::Ready(Ok(()));
        };
        let rest = &mut parts[first..];
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        for (slice, part) in slices.iter_mut().zip(rest.iter()) {
            *slice = IoSlice::new(part);
        }
        let count = rest.len().min(MAX_SLICES);
        let mut n = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
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
