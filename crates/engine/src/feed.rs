//! Paged reads of a key range with resumable, opaque continuation tokens.

use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::error::{EngineError, Result};

/// Items per page when the client names no limit.
const DEFAULT_PAGE_ITEMS: usize = 100;
/// Items per page when the client lets the server decide (`-1`).
const DYNAMIC_PAGE_ITEMS: usize = 1000;
/// The service caps a response body at 4 MB.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Paging options of a feed read.
#[derive(Debug, Clone, Default)]
pub struct FeedRequest {
    /// `x-ms-max-item-count`: `None` for the default, negative for "server decides".
    pub max_items: Option<i64>,
    /// `x-ms-continuation` from a previous page.
    pub continuation: Option<String>,
}

/// One page of a feed.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub items: Vec<Value>,
    /// Present when more items may follow.
    pub continuation: Option<String>,
}

impl FeedRequest {
    fn page_items(&self) -> usize {
        match self.max_items {
            None | Some(0) => DEFAULT_PAGE_ITEMS,
            Some(n) if n < 0 => DYNAMIC_PAGE_ITEMS,
            Some(n) => usize::try_from(n)
                .unwrap_or(DYNAMIC_PAGE_ITEMS)
                .min(DYNAMIC_PAGE_ITEMS),
        }
    }
}

/// Reads one page of `[start, end)`. The continuation is the hex of the key
/// to resume at, so it survives restarts; it is checked to lie inside the
/// range, so a forged token cannot read another resource.
pub(crate) fn read_page(
    reader: &dyn KvRead,
    start: &[u8],
    end: &[u8],
    request: &FeedRequest,
    mut decode: impl FnMut(&[u8]) -> Result<Value>,
) -> Result<FeedPage> {
    let resume = match &request.continuation {
        None => start.to_vec(),
        Some(token) => {
            let key = decode_hex(token)
                .filter(|k| k.as_slice() >= start && k.as_slice() <= end)
                .ok_or_else(|| EngineError::bad_request("Invalid continuation token."))?;
            key
        }
    };
    let limit = request.page_items();
    // One extra row tells whether another page exists.
    let rows = reader.scan(&resume, end, limit + 1)?;
    let mut page = FeedPage::default();
    let mut bytes = 0;
    for (i, (key, value)) in rows.iter().enumerate() {
        if i == limit || (bytes + value.len() > MAX_PAGE_BYTES && !page.items.is_empty()) {
            page.continuation = Some(encode_hex(key));
            break;
        }
        bytes += value.len();
        page.items.push(decode(value)?);
    }
    Ok(page)
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_garbage() {
        assert_eq!(decode_hex(&encode_hex(&[0, 1, 255])), Some(vec![0, 1, 255]));
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
