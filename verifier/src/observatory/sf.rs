//! Just enough of an RFC 8941/9651 structured-field parser to read `Cross-Origin-Opener-Policy`
//! and `Cross-Origin-Embedder-Policy` the way the Observatory does: the value must parse as one
//! item whose bare item is a token; its parameters (`report-to`) must be well-formed but are
//! otherwise ignored.
//!
//! It works on UTF-16 code units because the Observatory's parser does, which decides a few
//! edge cases (what a display string accepts).

/// The token of a structured-field item, or `None` when the value is not a valid item or its
/// bare item is not a token (a quoted string, a number, ...).
pub(crate) fn item_token(value: &str) -> Option<String> {
    let units: Vec<u16> = value.encode_utf16().collect();
    let mut p = Parser { s: &units, pos: 0 };
    p.skip_sp();
    let bare = p.bare_item()?;
    p.parameters()?;
    p.skip_sp();
    if !p.eof() {
        return None;
    }
    match bare {
        Bare::Token(t) => Some(t),
        Bare::Other => None,
    }
}

enum Bare {
    Token(String),
    Other,
}

struct Parser<'a> {
    s: &'a [u16],
    pos: usize,
}

fn ascii(u: Option<u16>) -> Option<char> {
    u.and_then(|u| u8::try_from(u).ok())
        .filter(u8::is_ascii)
        .map(char::from)
}

impl Parser<'_> {
    fn eof(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<char> {
        ascii(self.s.get(self.pos).copied())
    }

    fn next_unit(&mut self) -> Option<u16> {
        let u = self.s.get(self.pos).copied();
        self.pos += 1;
        u
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    fn bare_item(&mut self) -> Option<Bare> {
        match self.peek()? {
            '-' | '0'..='9' => self.number().map(|()| Bare::Other),
            '"' => self.string().map(|()| Bare::Other),
            c if c.is_ascii_alphabetic() || c == '*' => Some(Bare::Token(self.token())),
            ':' => self.byte_sequence().map(|()| Bare::Other),
            '?' => self.boolean().map(|()| Bare::Other),
            '@' => self.date().map(|()| Bare::Other),
            '%' => self.display_string().map(|()| Bare::Other),
            _ => None,
        }
    }

    fn parameters(&mut self) -> Option<()> {
        while self.peek() == Some(';') {
            self.pos += 1;
            self.skip_sp();
            self.key()?;
            if self.peek() == Some('=') {
                self.pos += 1;
                self.bare_item()?;
            }
        }
        Some(())
    }

    fn key(&mut self) -> Option<()> {
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == '*' => {}
            _ => return None,
        }
        while let Some(c) = self.peek() {
            if !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.*".contains(c)) {
                break;
            }
            self.pos += 1;
        }
        Some(())
    }

    fn token(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if !(c.is_ascii_alphanumeric() || ":/!#$%&'*+-.^_`|~".contains(c)) {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn number(&mut self) -> Option<()> {
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        if !self.peek()?.is_ascii_digit() {
            return None;
        }
        let (mut int_digits, mut frac_digits, mut decimal) = (0usize, 0usize, false);
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                if decimal {
                    frac_digits += 1;
                } else {
                    int_digits += 1;
                }
            } else if c == '.' && !decimal {
                if int_digits > 12 {
                    return None;
                }
                decimal = true;
            } else {
                break;
            }
            self.pos += 1;
            let len = int_digits + frac_digits + usize::from(decimal);
            if (!decimal && len > 15) || (decimal && len > 16) {
                return None;
            }
        }
        if decimal && (frac_digits == 0 || frac_digits > 3) {
            return None;
        }
        Some(())
    }

    fn string(&mut self) -> Option<()> {
        self.pos += 1;
        loop {
            let c = ascii(self.next_unit())?;
            match c {
                '\\' => {
                    let n = ascii(self.next_unit())?;
                    if n != '\\' && n != '"' {
                        return None;
                    }
                }
                '"' => return Some(()),
                c if (' '..='~').contains(&c) => {}
                _ => return None,
            }
        }
    }

    fn byte_sequence(&mut self) -> Option<()> {
        self.pos += 1;
        let rest = &self.s[self.pos.min(self.s.len())..];
        let end = rest.iter().position(|u| *u == u16::from(b':'))?;
        let content: Vec<char> = rest[..end]
            .iter()
            .map(|u| ascii(Some(*u)))
            .collect::<Option<_>>()?;
        self.pos += end + 1;
        if !content
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(*c))
        {
            return None;
        }
        forgiving_base64_ok(&content).then_some(())
    }

    fn boolean(&mut self) -> Option<()> {
        self.pos += 1;
        match ascii(self.next_unit())? {
            '0' | '1' => Some(()),
            _ => None,
        }
    }

    /// Dates must end the value: the parser reads digits to the end and fails on anything else.
    fn date(&mut self) -> Option<()> {
        self.pos += 1;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        if !self.peek()?.is_ascii_digit() {
            return None;
        }
        while !self.eof() {
            if !ascii(self.next_unit())?.is_ascii_digit() {
                return None;
            }
        }
        Some(())
    }

    fn display_string(&mut self) -> Option<()> {
        if self.s.get(self.pos + 1) != Some(&u16::from(b'"')) {
            return None;
        }
        self.pos += 2;
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(u) = self.next_unit() {
            if u <= 0x1f || (0x7f..=0xff).contains(&u) {
                return None;
            }
            if u == u16::from(b'%') {
                let hi = ascii(self.next_unit())?;
                let lo = ascii(self.next_unit())?;
                let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
                if !(lower_hex(hi) && lower_hex(lo)) {
                    return None;
                }
                let v = hi.to_digit(16)? * 16 + lo.to_digit(16)?;
                bytes.push(u8::try_from(v).ok()?);
                continue;
            }
            if u == u16::from(b'"') {
                return std::str::from_utf8(&bytes).ok().map(|_| ());
            }
            // A `Uint8Array` keeps the low byte of larger code units.
            bytes.push(u.to_le_bytes()[0]);
        }
        None
    }
}

/// Whether `atob` accepts the text (the WHATWG forgiving-base64 rules, without whitespace,
/// which the caller has already excluded).
fn forgiving_base64_ok(content: &[char]) -> bool {
    let mut data: &[char] = content;
    if data.len() % 4 == 0 {
        if data.ends_with(&['=', '=']) {
            data = &data[..data.len() - 2];
        } else if data.ends_with(&['=']) {
            data = &data[..data.len() - 1];
        }
    }
    data.len() % 4 != 1 && !data.contains(&'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_parameters() {
        assert_eq!(item_token("same-origin").as_deref(), Some("same-origin"));
        assert_eq!(
            item_token("same-origin; report-to=\"coop-endpoint\"").as_deref(),
            Some("same-origin")
        );
        assert_eq!(
            item_token("same-origin; report-to").as_deref(),
            Some("same-origin")
        );
        assert_eq!(
            item_token("  require-corp;a=1;b=?0;c=:aGk=:;d=1.5;e=@12;").as_deref(),
            None
        );
        assert_eq!(
            item_token("require-corp;a=1;b=?0;c=:aGk=:;d=1.5;e=@12").as_deref(),
            Some("require-corp")
        );
        assert_eq!(
            item_token("unsafe-none;x=%\"caf%c3%a9\"").as_deref(),
            Some("unsafe-none")
        );
        assert_eq!(item_token("Same-Origin").as_deref(), Some("Same-Origin"));
    }

    #[test]
    fn rejects_what_the_observatory_rejects() {
        for bad in [
            "\"same-origin\"",
            "same-origin; report-to=coop endpoint",
            "same-origin, unsafe-none",
            "same-origin;",
            "same-origin; Report-To=x",
            "1",
            "",
            "same-origin;a=:a:",
            "same-origin;a=:a=bc:",
            "same-origin;a=1.2345",
            "same-origin;a=1234567890123456",
            "same-origin;a=\"é\"",
            "same-origin;a=%\"%C3%A9\"",
            "same-origin;a=@1 ",
            "ünsafe",
        ] {
            assert_eq!(item_token(bad), None, "{bad:?}");
        }
    }
}
