//! MongoDB message framing: the 16-byte header, OP_MSG (every current
//! driver's command message) and OP_QUERY with its OP_REPLY (only for the
//! first handshake of older drivers and tools).

use bson::Document;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::MongoError;

pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_COMPRESSED: i32 = 2012;
pub const OP_MSG: i32 = 2013;

/// OP_MSG flag: a CRC-32C checksum follows the sections.
const CHECKSUM_PRESENT: u32 = 1;
/// OP_MSG flag: the sender wants no reply (unacknowledged writes).
pub const MORE_TO_COME: u32 = 1 << 1;

const HEADER_BYTES: usize = 16;

/// A command as a client sent it.
#[derive(Debug)]
pub struct Request {
    pub request_id: i32,
    pub kind: RequestKind,
    /// The command document, with kind-1 sections (document sequences, such
    /// as `documents` of an insert) folded in as arrays.
    pub body: Document,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestKind {
    Msg {
        more_to_come: bool,
    },
    /// OP_QUERY on `<db>.$cmd`: the database comes from the namespace.
    Query {
        database: String,
    },
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (or the socket failed): nothing to answer.
    Closed,
    /// A malformed message the connection can survive: answer with the error
    /// and read the next one. `request_id` is what to answer to.
    Bad { request_id: i32, error: MongoError },
    /// A message the stream cannot be resynchronised after.
    Fatal(MongoError),
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    let raw = bytes.get(at..at + 4)?;
    Some(i32::from_le_bytes(raw.try_into().ok()?))
}

/// Reads one message; messages over `max_bytes` are refused whole.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_bytes: usize,
) -> Result<Request, ReadError> {
    let mut header = [0u8; HEADER_BYTES];
    if stream.read_exact(&mut header).await.is_err() {
        return Err(ReadError::Closed);
    }
    let length = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let request_id = i32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let op_code = i32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let length = usize::try_from(length).unwrap_or(0);
    if length < HEADER_BYTES {
        return Err(ReadError::Fatal(MongoError::protocol(format!(
            "message length {length} is shorter than its header"
        ))));
    }
    if length > max_bytes {
        return Err(ReadError::Fatal(MongoError::protocol(format!(
            "message of {length} bytes is larger than the limit of {max_bytes} bytes"
        ))));
    }
    let mut body = vec![0u8; length - HEADER_BYTES];
    if stream.read_exact(&mut body).await.is_err() {
        return Err(ReadError::Closed);
    }
    let bad = |error| ReadError::Bad { request_id, error };
    match op_code {
        OP_MSG => parse_msg(&body).map_err(bad).map(|(kind, body)| Request {
            request_id,
            kind,
            body,
        }),
        OP_QUERY => parse_query(&body).map_err(bad).map(|(kind, body)| Request {
            request_id,
            kind,
            body,
        }),
        OP_COMPRESSED => Err(bad(MongoError::protocol(
            "compressed messages are not supported: the server offers no compressors",
        ))),
        other => Err(bad(MongoError::protocol(format!(
            "unsupported message opcode {other}"
        )))),
    }
}

fn read_document(bytes: &[u8]) -> Result<(Document, usize), MongoError> {
    let length = i32_at(bytes, 0)
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| *l >= 5 && *l <= bytes.len())
        .ok_or_else(|| MongoError::invalid_bson("a document's length runs past its message"))?;
    let document = Document::from_reader(&bytes[..length])
        .map_err(|e| MongoError::invalid_bson(e.to_string()))?;
    Ok((document, length))
}

fn parse_msg(bytes: &[u8]) -> Result<(RequestKind, Document), MongoError> {
    let flags =
        i32_at(bytes, 0).ok_or_else(|| MongoError::protocol("OP_MSG without flags"))? as u32;
    let mut end = bytes.len();
    if flags & CHECKSUM_PRESENT != 0 {
        end = end
            .checked_sub(4)
            .ok_or_else(|| MongoError::protocol("OP_MSG too short for its checksum"))?;
    }
    let mut at = 4;
    let mut body: Option<Document> = None;
    let mut sequences: Vec<(String, Vec<bson::Bson>)> = Vec::new();
    while at < end {
        let kind = bytes[at];
        at += 1;
        match kind {
            0 => {
                let (document, used) = read_document(&bytes[at..end])?;
                if body.replace(document).is_some() {
                    return Err(MongoError::protocol("OP_MSG with two body sections"));
                }
                at += used;
            }
            1 => {
                let size = i32_at(bytes, at)
                    .and_then(|s| usize::try_from(s).ok())
                    .filter(|s| *s >= 5 && at + s <= end)
                    .ok_or_else(|| {
                        MongoError::protocol("a document sequence runs past its message")
                    })?;
                let section = &bytes[at + 4..at + size];
                let name_end = section
                    .iter()
                    .position(|b| *b == 0)
                    .ok_or_else(|| MongoError::protocol("a document sequence without a name"))?;
                let name = String::from_utf8(section[..name_end].to_vec())
                    .map_err(|_| MongoError::protocol("a document sequence name is not UTF-8"))?;
                let mut docs = Vec::new();
                let mut inner = name_end + 1;
                while inner < section.len() {
                    let (document, used) = read_document(&section[inner..])?;
                    docs.push(bson::Bson::Document(document));
                    inner += used;
                }
                sequences.push((name, docs));
                at += size;
            }
            other => {
                return Err(MongoError::protocol(format!(
                    "unknown OP_MSG section kind {other}"
                )))
            }
        }
    }
    let mut body = body.ok_or_else(|| MongoError::protocol("OP_MSG without a body section"))?;
    for (name, docs) in sequences {
        body.insert(name, bson::Bson::Array(docs));
    }
    Ok((
        RequestKind::Msg {
            more_to_come: flags & MORE_TO_COME != 0,
        },
        body,
    ))
}

fn parse_query(bytes: &[u8]) -> Result<(RequestKind, Document), MongoError> {
    let name_end = bytes
        .iter()
        .skip(4)
        .position(|b| *b == 0)
        .map(|p| p + 4)
        .ok_or_else(|| MongoError::protocol("OP_QUERY without a namespace"))?;
    let namespace = std::str::from_utf8(&bytes[4..name_end])
        .map_err(|_| MongoError::protocol("OP_QUERY namespace is not UTF-8"))?;
    let Some(database) = namespace.strip_suffix(".$cmd") else {
        return Err(MongoError::protocol(
            "OP_QUERY is only supported for commands (namespace <db>.$cmd); use OP_MSG",
        ));
    };
    // Skip numberToSkip and numberToReturn.
    let at = name_end + 1 + 8;
    let (mut query, _) = read_document(bytes.get(at..).unwrap_or_default())?;
    // Old drivers wrap the command as {$query: {...}, $readPreference: ...}.
    if let Ok(inner) = query.get_document("$query") {
        query = inner.clone();
    }
    Ok((
        RequestKind::Query {
            database: database.to_string(),
        },
        query,
    ))
}

/// Writes the reply to `request` (OP_MSG for OP_MSG, OP_REPLY for OP_QUERY).
pub async fn write_reply<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response_to: i32,
    legacy: bool,
    reply: &Document,
) -> std::io::Result<()> {
    let document = reply
        .to_vec()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    let mut message = Vec::with_capacity(document.len() + 40);
    message.extend_from_slice(&[0; 4]);
    message.extend_from_slice(&0i32.to_le_bytes());
    message.extend_from_slice(&response_to.to_le_bytes());
    if legacy {
        message.extend_from_slice(&OP_REPLY.to_le_bytes());
        message.extend_from_slice(&0i32.to_le_bytes()); // responseFlags
        message.extend_from_slice(&0i64.to_le_bytes()); // cursorID
        message.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
        message.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
    } else {
        message.extend_from_slice(&OP_MSG.to_le_bytes());
        message.extend_from_slice(&0u32.to_le_bytes());
        message.push(0);
    }
    message.extend_from_slice(&document);
    let length = i32::try_from(message.len()).unwrap_or(i32::MAX);
    message[..4].copy_from_slice(&length.to_le_bytes());
    stream.write_all(&message).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn msg(sections: &[u8], flags: u32) -> Vec<u8> {
        let mut body = flags.to_le_bytes().to_vec();
        body.extend_from_slice(sections);
        let mut message = ((body.len() + 16) as i32).to_le_bytes().to_vec();
        message.extend_from_slice(&7i32.to_le_bytes());
        message.extend_from_slice(&0i32.to_le_bytes());
        message.extend_from_slice(&OP_MSG.to_le_bytes());
        message.extend_from_slice(&body);
        message
    }

    #[tokio::test]
    async fn folds_document_sequences_into_the_body() {
        let mut sections = vec![0];
        sections.extend(doc! {"insert": "c", "$db": "d"}.to_vec().unwrap());
        let one = doc! {"_id": 1}.to_vec().unwrap();
        let mut seq = b"documents\0".to_vec();
        seq.extend(&one);
        sections.push(1);
        sections.extend(((seq.len() + 4) as i32).to_le_bytes());
        sections.extend(seq);
        let bytes = msg(&sections, 0);
        let request = read_request(&mut bytes.as_slice(), 1 << 20).await.unwrap();
        assert_eq!(request.request_id, 7);
        assert_eq!(
            request.body.get_array("documents").unwrap(),
            &vec![bson::Bson::Document(doc! {"_id": 1})]
        );
    }

    #[tokio::test]
    async fn a_malformed_document_is_an_error_the_connection_survives() {
        let bytes = msg(&[0, 9, 0, 0, 0, 0xff, 0, 0, 0, 0], 0);
        match read_request(&mut bytes.as_slice(), 1 << 20).await {
            Err(ReadError::Bad { request_id: 7, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_oversized_message_is_refused() {
        let bytes = msg(&[0; 64], 0);
        assert!(matches!(
            read_request(&mut bytes.as_slice(), 32).await,
            Err(ReadError::Fatal(_))
        ));
    }
}
