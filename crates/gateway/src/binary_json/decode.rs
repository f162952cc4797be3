//! Binary JSON to `serde_json::Value`. Every length and offset is checked
//! against the buffer, nesting is bounded and string references cannot chain
//! or blow up, so no input can make the decoder panic, loop or allocate far
//! beyond the size of the body.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use thiserror::Error;

use super::markers::*;
use super::PREAMBLE;

/// The service's limit on nesting depth.
const MAX_DEPTH: usize = 128;
/// Referenced strings may add at most this multiple of the body's size.
const REFERENCE_EXPANSION: usize = 4;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum BinaryJsonError {
    #[error("the binary JSON body ends early (at byte {0})")]
    Truncated(usize),
    #[error("invalid binary JSON: {what} at byte {at}")]
    Invalid { what: &'static str, at: usize },
    #[error("binary JSON {what} (marker 0x{marker:02X} at byte {at}) is not supported; send this body as text JSON")]
    Unsupported {
        what: &'static str,
        marker: u8,
        at: usize,
    },
}

/// Decodes a whole binary JSON body, preamble included.
pub fn decode(body: &[u8]) -> Result<Value, BinaryJsonError> {
    if body.first() != Some(&PREAMBLE) {
        return Err(BinaryJsonError::Invalid {
            what: "missing 0x80 preamble",
            at: 0,
        });
    }
    let mut decoder = Decoder {
        buf: body,
        pos: 1,
        reference_budget: body.len().saturating_mul(REFERENCE_EXPANSION).max(4096),
    };
    let value = decoder.value(0)?;
    if decoder.pos != body.len() {
        return Err(decoder.invalid("bytes after the root value"));
    }
    Ok(value)
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    reference_budget: usize,
}

impl<'a> Decoder<'a> {
    fn invalid(&self, what: &'static str) -> BinaryJsonError {
        BinaryJsonError::Invalid { what, at: self.pos }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BinaryJsonError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(BinaryJsonError::Truncated(self.buf.len()))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], BinaryJsonError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, BinaryJsonError> {
        Ok(self.fixed::<1>()?[0])
    }

    /// An unsigned little-endian integer of `width` bytes (1 to 8).
    fn uint(&mut self, width: usize) -> Result<usize, BinaryJsonError> {
        let bytes = self.take(width)?;
        let mut value: u64 = 0;
        for (i, b) in bytes.iter().enumerate() {
            value |= u64::from(*b) << (8 * i);
        }
        usize::try_from(value).map_err(|_| self.invalid("length out of range"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, BinaryJsonError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid("nesting deeper than 128 levels"));
        }
        let at = self.pos;
        let marker = self.byte()?;
        match marker {
            0..LITERAL_INT_END => Ok(Value::from(marker)),
            SYSTEM_STRING..SYSTEM_STRING_END | SHORT_STRING..=STRING_REF4 => {
                self.string(marker, at).map(Value::String)
            }
            USER_STRING..USER_STRING_END => Err(unsupported("user-dictionary string", marker, at)),
            COMPRESSED_STRING..SHORT_STRING => Err(unsupported("compressed string", marker, at)),
            NULL => Ok(Value::Null),
            FALSE => Ok(Value::Bool(false)),
            TRUE => Ok(Value::Bool(true)),
            GUID => {
                let b = self.fixed::<16>()?;
                let mut guid = b;
                // The first three groups are little-endian.
                guid[..4].reverse();
                guid[4..6].reverse();
                guid[6..8].reverse();
                Ok(Value::String(
                    uuid::Uuid::from_bytes(guid).hyphenated().to_string(),
                ))
            }
            BINARY_LEN1..=BINARY_LEN4 => {
                let len = self.uint(width_of(marker - BINARY_LEN1))?;
                Ok(Value::String(STANDARD.encode(self.take(len)?)))
            }
            ARRAY_EMPTY => Ok(Value::Array(Vec::new())),
            ARRAY_ONE => Ok(Value::Array(vec![self.value(depth + 1)?])),
            ARRAY_LEN1..=ARRAY_LEN_COUNT4 => {
                let end = self.container_end(marker - ARRAY_LEN1)?;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(depth + 1)?);
                }
                self.check_end(end)?;
                Ok(Value::Array(items))
            }
            OBJECT_EMPTY => Ok(Value::Object(Map::new())),
            OBJECT_ONE => {
                let mut map = Map::new();
                self.member(&mut map, depth)?;
                Ok(Value::Object(map))
            }
            OBJECT_LEN1..=OBJECT_LEN_COUNT4 => {
                let end = self.container_end(marker - OBJECT_LEN1)?;
                let mut map = Map::new();
                while self.pos < end {
                    self.member(&mut map, depth)?;
                }
                self.check_end(end)?;
                Ok(Value::Object(map))
            }
            NUMBER_ARRAY_COUNT1 | NUMBER_ARRAY_COUNT2 => {
                let item = self.byte()?;
                let count = self.uint(if marker == NUMBER_ARRAY_COUNT1 { 1 } else { 2 })?;
                self.number_array(item, count)
            }
            NUMBER_ARRAYS_COUNT1 | NUMBER_ARRAYS_COUNT2 => {
                let (inner_marker, width) = if marker == NUMBER_ARRAYS_COUNT1 {
                    (NUMBER_ARRAY_COUNT1, 1)
                } else {
                    (NUMBER_ARRAY_COUNT2, 2)
                };
                if self.byte()? != inner_marker {
                    return Err(
                        self.invalid("array of number arrays with a mismatched inner marker")
                    );
                }
                let item = self.byte()?;
                let inner = self.uint(width)?;
                let outer = self.uint(width)?;
                if inner == 0 && outer > self.buf.len() {
                    return Err(self.invalid("more empty arrays than the body can justify"));
                }
                (0..outer)
                    .map(|_| self.number_array(item, inner))
                    .collect::<Result<_, _>>()
                    .map(Value::Array)
            }
            FLOAT16 => Err(unsupported("half-precision number", marker, at)),
            _ => self.number(marker, at),
        }
    }

    /// The end of a container's payload, after reading its length (and count).
    /// `form` is 0..=2 for length-only (1/2/4 bytes), 3..=5 for length and count.
    fn container_end(&mut self, form: u8) -> Result<usize, BinaryJsonError> {
        let width = width_of(form % 3);
        let len = self.uint(width)?;
        if form >= 3 {
            // The count is a hint for readers that preallocate; the length governs.
            self.uint(width)?;
        }
        self.pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or(BinaryJsonError::Truncated(self.buf.len()))
    }

    fn check_end(&self, end: usize) -> Result<(), BinaryJsonError> {
        if self.pos == end {
            Ok(())
        } else {
            Err(self.invalid("an element runs past its container's length"))
        }
    }

    fn member(
        &mut self,
        map: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<(), BinaryJsonError> {
        let at = self.pos;
        let marker = self.byte()?;
        let name = match marker {
            SYSTEM_STRING..SYSTEM_STRING_END | SHORT_STRING..=STRING_REF4 => {
                self.string(marker, at)?
            }
            _ => {
                return Err(BinaryJsonError::Invalid {
                    what: "property name is not a string",
                    at,
                })
            }
        };
        let value = self.value(depth + 1)?;
        map.insert(name, value);
        Ok(())
    }

    fn string(&mut self, marker: u8, at: usize) -> Result<String, BinaryJsonError> {
        let len = match marker {
            SYSTEM_STRING..SYSTEM_STRING_END => {
                return Ok(SYSTEM_STRINGS[usize::from(marker - SYSTEM_STRING)].to_string())
            }
            SHORT_STRING..SHORT_STRING_END => usize::from(marker - SHORT_STRING),
            STRING_LEN1 => self.uint(1)?,
            STRING_LEN2 => self.uint(2)?,
            STRING_LEN4 => self.uint(4)?,
            _ => return self.reference(usize::from(marker - STRING_REF1) + 1, at),
        };
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| BinaryJsonError::Invalid {
            what: "string is not UTF-8",
            at,
        })
    }

    /// A string written earlier in the body, addressed by its offset. The
    /// target must be a plain string before this point, so references cannot
    /// chain or loop, and their total size is budgeted.
    fn reference(&mut self, width: usize, at: usize) -> Result<String, BinaryJsonError> {
        let target = self.uint(width)?;
        let bad = BinaryJsonError::Invalid {
            what: "string reference to something other than an earlier string",
            at,
        };
        let marker = *self
            .buf
            .get(target)
            .filter(|_| target >= 1 && target < at)
            .ok_or(bad.clone())?;
        if !matches!(marker, SYSTEM_STRING..SYSTEM_STRING_END | SHORT_STRING..=STRING_LEN4) {
            return Err(bad);
        }
        let mut sub = Decoder {
            buf: self.buf,
            pos: target + 1,
            reference_budget: 0,
        };
        let text = sub.string(marker, target)?;
        self.reference_budget =
            self.reference_budget
                .checked_sub(text.len())
                .ok_or(BinaryJsonError::Invalid {
                    what: "string references expand too far",
                    at,
                })?;
        Ok(text)
    }

    fn number(&mut self, marker: u8, at: usize) -> Result<Value, BinaryJsonError> {
        let value = match marker {
            NUMBER_UINT8 | UINT8 => Value::from(self.byte()?),
            INT8 => Value::from(i8::from_le_bytes(self.fixed()?)),
            NUMBER_INT16 | INT16 => Value::from(i16::from_le_bytes(self.fixed()?)),
            NUMBER_INT32 | INT32 => Value::from(i32::from_le_bytes(self.fixed()?)),
            UINT32 => Value::from(u32::from_le_bytes(self.fixed()?)),
            NUMBER_INT64 | INT64 => Value::from(i64::from_le_bytes(self.fixed()?)),
            NUMBER_UINT64 => Value::from(u64::from_le_bytes(self.fixed()?)),
            FLOAT32 => double(f64::from(f32::from_le_bytes(self.fixed()?)), at)?,
            NUMBER_DOUBLE | FLOAT64 => double(f64::from_le_bytes(self.fixed()?), at)?,
            _ => {
                return Err(BinaryJsonError::Invalid {
                    what: "unknown marker",
                    at,
                })
            }
        };
        Ok(value)
    }

    /// `count` numbers of the type `item` names, without markers of their own.
    fn number_array(&mut self, item: u8, count: usize) -> Result<Value, BinaryJsonError> {
        let at = self.pos;
        if !matches!(
            item,
            UINT8 | INT8 | INT16 | INT32 | INT64 | UINT32 | FLOAT32 | FLOAT64
        ) {
            return Err(BinaryJsonError::Invalid {
                what: "number array of a non-number type",
                at,
            });
        }
        let mut items = Vec::with_capacity(count.min(self.buf.len()));
        for _ in 0..count {
            items.push(self.number(item, at)?);
        }
        Ok(Value::Array(items))
    }
}

fn width_of(form: u8) -> usize {
    match form {
        0 => 1,
        1 => 2,
        _ => 4,
    }
}

fn double(value: f64, at: usize) -> Result<Value, BinaryJsonError> {
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or(BinaryJsonError::Invalid {
            what: "a number that is not finite",
            at,
        })
}

fn unsupported(what: &'static str, marker: u8, at: usize) -> BinaryJsonError {
    BinaryJsonError::Unsupported { what, marker, at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![PREAMBLE];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn scalars() {
        assert_eq!(decode(&body(&[NULL])), Ok(Value::Null));
        assert_eq!(decode(&body(&[TRUE])), Ok(json!(true)));
        assert_eq!(decode(&body(&[7])), Ok(json!(7)));
        let with_bytes = |marker: u8, bytes: [u8; 8]| body(&[&[marker][..], &bytes].concat());
        assert_eq!(
            decode(&with_bytes(NUMBER_INT64, (-1i64).to_le_bytes())),
            Ok(json!(-1))
        );
        assert_eq!(
            decode(&with_bytes(NUMBER_UINT64, u64::MAX.to_le_bytes())),
            Ok(json!(u64::MAX))
        );
        assert_eq!(
            decode(&with_bytes(NUMBER_DOUBLE, 1.5f64.to_le_bytes())),
            Ok(json!(1.5))
        );
        assert_eq!(decode(&body(&[INT8, 0xFE])), Ok(json!(-2)));
        assert_eq!(decode(&body(&[0x2C])), Ok(json!("id")), "system string 12");
    }

    #[test]
    fn strings_of_every_length_form() {
        assert_eq!(decode(&body(&[0x82, b'h', b'i'])), Ok(json!("hi")));
        let mut long = vec![STRING_LEN1, 64];
        long.extend_from_slice(&[b'x'; 64]);
        assert_eq!(decode(&body(&long)), Ok(json!("x".repeat(64))));
        let mut longer = vec![STRING_LEN2, 0x00, 0x01];
        longer.extend_from_slice(&[b'y'; 256]);
        assert_eq!(decode(&body(&longer)), Ok(json!("y".repeat(256))));
    }

    #[test]
    fn objects_arrays_and_references() {
        // {"id": "a", "pk": [1, "a"]} where the second "a" refers back to the first.
        // The "a" string's marker sits at offset 5: preamble, object marker, length, count, "id".
        let inner = [ARRAY_LEN1, 3, 1, STRING_REF1, 5];
        let mut payload = vec![0x2C, 0x81, b'a', 0x82, b'p', b'k'];
        payload.extend_from_slice(&inner);
        let mut doc = vec![OBJECT_LEN_COUNT1, payload.len() as u8, 2];
        doc.extend_from_slice(&payload);
        assert_eq!(decode(&body(&doc)), Ok(json!({"id": "a", "pk": [1, "a"]})));
        assert_eq!(decode(&body(&[ARRAY_EMPTY])), Ok(json!([])));
        assert_eq!(decode(&body(&[OBJECT_EMPTY])), Ok(json!({})));
        assert_eq!(
            decode(&body(&[NUMBER_ARRAY_COUNT1, UINT8, 3, 1, 2, 3])),
            Ok(json!([1, 2, 3]))
        );
        assert_eq!(
            decode(&body(&[
                NUMBER_ARRAYS_COUNT1,
                NUMBER_ARRAY_COUNT1,
                INT8,
                2,
                2,
                1,
                2,
                3,
                4
            ])),
            Ok(json!([[1, 2], [3, 4]]))
        );
    }

    #[test]
    fn guid_groups_are_little_endian() {
        let mut g = vec![GUID];
        g.extend_from_slice(&[
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        assert_eq!(
            decode(&body(&g)),
            Ok(json!("00112233-4455-6677-8899-aabbccddeeff"))
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x7B],
            body(&[]),
            body(&[STRING_LEN4, 0xFF, 0xFF, 0xFF, 0xFF]),
            body(&[ARRAY_LEN4, 0xFF, 0xFF, 0xFF, 0x7F]),
            body(&[ARRAY_LEN1, 1, STRING_LEN1, 5]),
            body(&[STRING_REF1, 0]),
            body(&[STRING_REF1, 9]),
            body(&[0x81, 0xFF]),
            body(&[NULL, NULL]),
            body(&[OBJECT_ONE, 5, 5]),
            body(&[
                NUMBER_ARRAYS_COUNT2,
                NUMBER_ARRAY_COUNT2,
                INT8,
                0,
                0,
                0xFF,
                0xFF,
            ]),
            body(&[0x45]),
            body(&[FLOAT16, 0, 0]),
            body(&[0x75]),
        ];
        for case in cases {
            assert!(decode(&case).is_err(), "{case:?}");
        }
        let mut deep = vec![ARRAY_ONE; 200];
        deep.push(NULL);
        assert!(decode(&body(&deep)).is_err(), "nesting is bounded");
    }

    #[test]
    fn random_bytes_never_panic() {
        // A cheap deterministic fuzz; the cargo-fuzz target goes further.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (state % 64) as usize;
            let mut buf = vec![PREAMBLE];
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf.push((state >> 24) as u8);
            }
            let _ = decode(&buf);
        }
    }
}
