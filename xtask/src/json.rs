//! Just enough JSON for `cargo xtask bench-check`: a parser into [`Json`] values and string
//! quoting for the baseline it writes. xtask uses only the standard library (see the crate
//! doc), so this stands in for serde_json; it follows RFC 8259, keeps the order of object
//! members and reports errors by line and column.

use std::fmt;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Any number (JSON does not tell integers apart).
    Number(f64),
    /// A string, escapes resolved.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object's members in the order of the text (a repeated key is a parse error).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object (`None` for a missing key or a value of another type).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages: `an object`, `a number`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Why a text is not JSON, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the offending character.
    pub line: usize,
    /// 1-based column (in characters) of the offending character.
    pub column: usize,
    /// What was found and what was expected there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parses `text`, which must hold exactly one JSON value (whitespace around it allowed).
pub fn parse(text: &str) -> Result<Json, ParseError> {
    let mut parser = Parser { text, pos: 0 };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos < text.len() {
        return Err(parser.error("expected the end of the text after the JSON value"));
    }
    Ok(value)
}

/// `s` as a JSON string literal, quotes included.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// A recursive-descent parser over `text`, at byte offset `pos`.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    /// An error at the current position.
    fn error(&self, message: impl Into<String>) -> ParseError {
        let before = &self.text[..self.pos];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// What is at the current position, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("`{c}`"),
            None => "the end of the text".to_string(),
        }
    }

    fn skip_whitespace(&mut self) {
        let rest = &self.text[self.pos..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\n', '\r']);
        self.pos += rest.len() - trimmed.len();
    }

    /// Consumes `c` (after whitespace) or fails saying it was expected.
    fn expect(&mut self, c: char, context: &str) -> Result<(), ParseError> {
        self.skip_whitespace();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}` {context}, found {}", self.found())))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.skip_whitespace();
        match self.peek() {
            Some('{') => self.object(depth),
            Some('[') => self.array(depth),
            Some('"') => self.string().map(Json::String),
            Some('-' | '0'..='9') => self.number(),
            Some(_) => {
                for (word, value) in [
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                    ("null", Json::Null),
                ] {
                    if self.text[self.pos..].starts_with(word) {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                Err(self.error(format!("expected a JSON value, found {}", self.found())))
            }
            None => Err(self.error("expected a JSON value, found the end of the text")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.pos += 1; // `{`
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some('"') {
                return Err(self.error(format!(
                    "expected a member name in quotes, found {}",
                    self.found()
                )));
            }
            let key_at = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.pos = key_at;
                return Err(self.error(format!("the key {} appears twice", quote(&key))));
            }
            self.expect(':', "after a member name")?;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `}}` after an object member, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.pos += 1; // `[`
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => {
                    return Err(self.error(format!(
                        "expected `,` or `]` after an array element, found {}",
                        self.found()
                    )));
                }
            }
        }
    }

    /// A string literal starting at the current `"`.
    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // `"`
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    let escape = self.peek();
                    let resolved = match escape {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => {
                            return Err(self.error(format!(
                                "expected an escape (`\\\"`, `\\n`, `\\u00e9`, ...), found {}",
                                self.found()
                            )));
                        }
                    };
                    self.pos += 1;
                    out.push(resolved);
                }
                c if u32::from(c) < 0x20 => {
                    return Err(self.error("a control character in a string must be escaped"));
                }
                c => {
                    self.pos += c.len_utf8();
                    out.push(c);
                }
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` consumed), pairing surrogates.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.text[self.pos..].starts_with("\\u") {
                return Err(self.error("expected `\\u` with the low half of a surrogate pair"));
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error("expected the low half of a surrogate pair"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.error(format!("`\\u{code:04x}` is no character")))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.text.get(self.pos..self.pos + 4).unwrap_or("");
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.error("expected four hex digits after `\\u`"));
        }
        self.pos += 4;
        Ok(u32::from_str_radix(digits, 16).expect("four hex digits"))
    }

    /// A number: `-`? int frac? exp?, as RFC 8259 has it.
    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |mut at: usize| {
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            at
        };
        let mut at = start;
        if bytes[at] == b'-' {
            at += 1;
        }
        let int_end = digits(at);
        let bad_int = int_end == at || (bytes[at] == b'0' && int_end > at + 1);
        if bad_int {
            self.pos = at;
            return Err(self.error("expected digits (no leading zero) in a number"));
        }
        at = int_end;
        if bytes.get(at) == Some(&b'.') {
            let frac_end = digits(at + 1);
            if frac_end == at + 1 {
                self.pos = at + 1;
                return Err(self.error("expected digits after the decimal point"));
            }
            at = frac_end;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            let exp_end = digits(at);
            if exp_end == at {
                self.pos = at;
                return Err(self.error("expected digits in the exponent"));
            }
            at = exp_end;
        }
        self.pos = at;
        let number: f64 = self.text[start..at]
            .parse()
            .expect("the JSON number grammar is a subset of Rust's");
        Ok(Json::Number(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_serde_json_writes() {
        let text = "{\n  \"name\": \"nest-10k\",\n  \"reps\": 3,\n  \"seconds\": 6.75e-5,\n  \
                    \"ratios\": {\"chk\": 34.24, \"chk+crash\": -1.0},\n  \"ok\": [true, false, \
                    null],\n  \"esc\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"\n}\n";
        let json = parse(text).unwrap();
        assert_eq!(json.get("name"), Some(&Json::String("nest-10k".into())));
        assert_eq!(json.get("reps"), Some(&Json::Number(3.0)));
        assert_eq!(json.get("seconds"), Some(&Json::Number(6.75e-5)));
        let ratios = json.get("ratios").unwrap();
        assert_eq!(ratios.get("chk+crash"), Some(&Json::Number(-1.0)));
        assert_eq!(
            json.get("ok"),
            Some(&Json::Array(vec![
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]))
        );
        assert_eq!(
            json.get("esc"),
            Some(&Json::String("a\"b\\c\u{e9}😀".into()))
        );
        assert_eq!(json.get("missing"), None);
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let error = |text: &str| parse(text).unwrap_err();
        let e = error("{\n  \"a\": 1,\n  \"b\" 2\n}");
        assert_eq!((e.line, e.column), (3, 7), "{e}");
        assert!(e.message.contains("expected `:`"), "{e}");
        assert!(error("{\"a\": 1,}").message.contains("member name"));
        assert!(error("[1 2]").message.contains("`,` or `]`"));
        assert!(error("01").message.contains("leading zero"));
        assert!(error("1.").message.contains("decimal point"));
        assert!(error("\"abc").message.contains("unterminated"));
        assert!(error("{\"a\": 1, \"a\": 2}").message.contains("twice"));
        assert!(error("{} x").message.contains("end of the text"));
        assert!(error("").message.contains("found the end"));
        assert!(error("nul").message.contains("expected a JSON value"));
        assert!(error(&"[".repeat(1000)).message.contains("nested deeper"));
    }

    #[test]
    fn quoted_strings_parse_back() {
        for s in [
            "plain",
            "a \"quoted\" \\ path",
            "tab\tnew\nline\u{1}",
            "é😀",
        ] {
            assert_eq!(
                parse(&quote(s)).unwrap(),
                Json::String(s.to_string()),
                "{s}"
            );
        }
    }
}
