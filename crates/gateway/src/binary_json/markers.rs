//! The marker byte of each kind of value. Ranges are half-open.

/// `0x00..0x20`: the integer equal to the marker.
pub const LITERAL_INT_END: u8 = 0x20;
/// `0x20..0x40`: an entry of [`SYSTEM_STRINGS`].
pub const SYSTEM_STRING: u8 = 0x20;
pub const SYSTEM_STRING_END: u8 = 0x40;
/// `0x40..0x68`: a string from a user dictionary (1 or 2 bytes of index).
pub const USER_STRING: u8 = 0x40;
pub const USER_STRING_END: u8 = 0x68;
/// `0x71..0x80`: compressed strings (base64, GUID, hex, date-time, packed).
pub const COMPRESSED_STRING: u8 = 0x71;
/// `0x80..0xC0`: a UTF-8 string whose byte length is `marker - 0x80`.
pub const SHORT_STRING: u8 = 0x80;
pub const SHORT_STRING_END: u8 = 0xC0;
/// A UTF-8 string with a 1, 2 or 4-byte little-endian byte length.
pub const STRING_LEN1: u8 = 0xC0;
pub const STRING_LEN2: u8 = 0xC1;
pub const STRING_LEN4: u8 = 0xC2;
/// A string stored earlier in the buffer, at a 1, 2, 3 or 4-byte offset.
pub const STRING_REF1: u8 = 0xC3;
pub const STRING_REF2: u8 = 0xC4;
pub const STRING_REF3: u8 = 0xC5;
pub const STRING_REF4: u8 = 0xC6;
/// Numbers, little-endian.
pub const NUMBER_UINT64: u8 = 0xC7;
pub const NUMBER_UINT8: u8 = 0xC8;
pub const NUMBER_INT16: u8 = 0xC9;
pub const NUMBER_INT32: u8 = 0xCA;
pub const NUMBER_INT64: u8 = 0xCB;
pub const NUMBER_DOUBLE: u8 = 0xCC;
pub const FLOAT32: u8 = 0xCD;
pub const FLOAT64: u8 = 0xCE;
pub const FLOAT16: u8 = 0xCF;
pub const NULL: u8 = 0xD0;
pub const FALSE: u8 = 0xD1;
pub const TRUE: u8 = 0xD2;
/// A GUID in 16 bytes (first three groups little-endian).
pub const GUID: u8 = 0xD3;
pub const UINT8: u8 = 0xD7;
pub const INT8: u8 = 0xD8;
pub const INT16: u8 = 0xD9;
pub const INT32: u8 = 0xDA;
pub const INT64: u8 = 0xDB;
pub const UINT32: u8 = 0xDC;
/// Raw bytes with a 1, 2 or 4-byte length; read as a base64 string.
pub const BINARY_LEN1: u8 = 0xDD;
pub const BINARY_LEN2: u8 = 0xDE;
pub const BINARY_LEN4: u8 = 0xDF;
/// Arrays: empty, one item, byte length (1/2/4), byte length and count (1/2/4).
pub const ARRAY_EMPTY: u8 = 0xE0;
pub const ARRAY_ONE: u8 = 0xE1;
pub const ARRAY_LEN1: u8 = 0xE2;
pub const ARRAY_LEN4: u8 = 0xE4;
pub const ARRAY_LEN_COUNT1: u8 = 0xE5;
pub const ARRAY_LEN_COUNT4: u8 = 0xE7;
/// Objects, laid out as arrays are, with name-value pairs.
pub const OBJECT_EMPTY: u8 = 0xE8;
pub const OBJECT_ONE: u8 = 0xE9;
pub const OBJECT_LEN1: u8 = 0xEA;
pub const OBJECT_LEN4: u8 = 0xEC;
pub const OBJECT_LEN_COUNT1: u8 = 0xED;
pub const OBJECT_LEN_COUNT4: u8 = 0xEF;
/// Arrays of numbers of one type: item marker, count (1 or 2 bytes), bare items.
pub const NUMBER_ARRAY_COUNT1: u8 = 0xF0;
pub const NUMBER_ARRAY_COUNT2: u8 = 0xF1;
/// Arrays of such arrays: inner marker, item marker, inner count, outer count.
pub const NUMBER_ARRAYS_COUNT1: u8 = 0xF2;
pub const NUMBER_ARRAYS_COUNT2: u8 = 0xF3;

/// Strings common enough in documents to have one-byte codes.
pub const SYSTEM_STRINGS: [&str; 32] = [
    "$s",
    "$t",
    "$v",
    "_attachments",
    "_etag",
    "_rid",
    "_self",
    "_ts",
    "attachments/",
    "coordinates",
    "geometry",
    "GeometryCollection",
    "id",
    "url",
    "Value",
    "label",
    "LineString",
    "link",
    "MultiLineString",
    "MultiPoint",
    "MultiPolygon",
    "name",
    "Name",
    "Type",
    "Point",
    "Polygon",
    "properties",
    "type",
    "value",
    "Feature",
    "FeatureCollection",
    "_id",
];
