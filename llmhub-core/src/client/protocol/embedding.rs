//! Embedding replies, read with each vector's numbers parsed straight from the reply's text.
//!
//! An embedding reply is almost all numbers (1,536 or more per vector), and the JSON
//! deserializer, which parses floats exactly, spends some 600 instructions on each one it
//! reads into a `Vec<f32>`. Here the reply is read with every `embedding` kept as its raw
//! JSON text (which the deserializer only checks, a cheaper scan), then its numbers are read
//! one after another with `fast-float2`, which rounds each to the nearest `f32` as the
//! deserializer does (see [`number`]), into a vector sized for them.
//!
//! Anything other than a plain array of finite numbers (a base64 string, a `null` or a string
//! among the numbers, a reply that does not parse) is read again the usual way, so that the
//! result, or the error, is the deserializer's own.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::client::message::null_as_default;
use crate::client::response::{Embedding, EmbeddingResponse, Usage};

/// An [`EmbeddingResponse`] as the fast path reads it: each vector still JSON text.
#[derive(Deserialize)]
struct Reply<'a> {
    /// `None` for a missing or `null` list, which is an empty one.
    #[serde(default, borrow)]
    data: Option<Vec<Vector<'a>>>,
    #[serde(default, deserialize_with = "null_as_default")]
    model: String,
    #[serde(default)]
    usage: Option<Usage>,
}

/// An [`Embedding`] with its vector as JSON text (`None` when missing or `null`).
#[derive(Deserialize)]
struct Vector<'a> {
    #[serde(default, borrow)]
    embedding: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "null_as_default")]
    index: u32,
}

/// An OpenAI-shaped embedding reply (see the module's docs).
pub(crate) fn parse_embedding(body: Bytes) -> serde_json::Result<EmbeddingResponse> {
    let mut reply = match read_fast(&body) {
        Some(reply) => reply,
        None => serde_json::from_slice(&body)?,
    };
    reply.raw = body;
    Ok(reply)
}

/// The reply, if it parses and every vector is a plain array of finite numbers.
fn read_fast(body: &[u8]) -> Option<EmbeddingResponse> {
    let reply: Reply<'_> = serde_json::from_slice(body).ok()?;
    let data = reply
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|vector| {
            let embedding = match vector.embedding {
                Some(text) => numbers(text.get())?,
                None => Vec::new(),
            };
            Some(Embedding {
                embedding,
                index: vector.index,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(EmbeddingResponse {
        data,
        model: reply.model,
        usage: reply.usage,
        raw: Bytes::new(),
    })
}

/// The numbers of `text`, a JSON array the deserializer has checked, as `f32`s; `None` when
/// an element is not a number, or is one too large for an `f32` (the deserializer's error).
///
/// In a checked array, what starts like a number (`-` or a digit) is a JSON number, followed
/// by blanks and then a comma or the array's end. The vector is sized by the commas, once the
/// array is known to hold no string (whose commas would size it for nothing: a reply could
/// make it four times its own size).
fn numbers(text: &str) -> Option<Vec<f32>> {
    let inner = text.as_bytes().strip_prefix(b"[")?.strip_suffix(b"]")?;
    let mut rest = inner.trim_ascii_start();
    let mut numbers = Vec::new();
    if rest.is_empty() {
        return Some(numbers);
    }
    if memchr::memchr(b'"', rest).is_some() {
        return None;
    }
    numbers.reserve_exact(memchr::memchr_iter(b',', rest).count() + 1);
    loop {
        let (value, used) = number(rest)?;
        numbers.push(value);
        rest = rest[used..].trim_ascii_start();
        match rest.split_first() {
            None => return Some(numbers),
            Some((b',', after)) => rest = after.trim_ascii_start(),
            Some(_) => return None,
        }
    }
}

/// The JSON number at the start of `text` as the deserializer reads it into an `f32`, and its
/// length: rounded once to the nearest `f32`, which must be finite (the deserializer refuses
/// the number otherwise); except a negative integer below `i64`'s range whose magnitude fits a
/// `u64`, which the deserializer reads as an `f64` first.
fn number(text: &[u8]) -> Option<(f32, usize)> {
    if !matches!(text.first(), Some(b'-' | b'0'..=b'9')) {
        return None;
    }
    let (value, used) = fast_float2::parse_partial::<f32, _>(text).ok()?;
    if !value.is_finite() {
        return None;
    }
    // At most -2^63 (rounded): the one case to check for that `f64` reading.
    if value <= -9.223_372e18
        && let Some(digits) = text[..used].strip_prefix(b"-")
        && digits.iter().all(u8::is_ascii_digit)
        && let Ok(magnitude) = std::str::from_utf8(digits).ok()?.parse::<u64>()
        && magnitude > 1 << 63
    {
        return Some((-(magnitude as f64) as f32, used));
    }
    Some((value, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reply as the deserializer reads it, with its raw body, as `parse_embedding` gives it.
    fn derived(body: &str) -> serde_json::Result<EmbeddingResponse> {
        let mut reply: EmbeddingResponse = serde_json::from_str(body)?;
        reply.raw = Bytes::copy_from_slice(body.as_bytes());
        Ok(reply)
    }

    fn parsed(body: &str) -> serde_json::Result<EmbeddingResponse> {
        parse_embedding(Bytes::copy_from_slice(body.as_bytes()))
    }

    /// Asserts the fast path reads `body`, to the deserializer's result.
    fn fast_and_same(body: &str) {
        assert!(
            read_fast(body.as_bytes()).is_some(),
            "not read fast: {body}"
        );
        assert_eq!(parsed(body).unwrap(), derived(body).unwrap(), "{body}");
    }

    #[test]
    fn plain_vectors_are_read_fast_to_the_same_values() {
        fast_and_same(
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.0069199493,3e-5,-2.5E+3,0,-0,1e-50,123456789012345678901234567890]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#,
        );
        fast_and_same(
            r#"{"data":[{"embedding":[ 1 , 2.5 ,-3 ],"index":1},{"embedding":[]},{"embedding":[ ]}],"model":"m"}"#,
        );
        fast_and_same(r#"{"data":[{"embedding":null,"index":null}],"model":null}"#);
        fast_and_same(r#"{"data":null}"#);
        fast_and_same("{}");
    }

    #[test]
    fn anything_else_is_the_deserializers_own_result_or_error() {
        for body in [
            // base64, null and string elements, nested arrays, commas inside strings.
            r#"{"data":[{"embedding":"AACAPwAAAEA="}]}"#,
            r#"{"data":[{"embedding":[1,null,2]}]}"#,
            r#"{"data":[{"embedding":["1,2",3]}]}"#,
            r#"{"data":[{"embedding":[1,"2,3"]}]}"#,
            r#"{"data":[{"embedding":[1,2,",,,,,,,,,,,,,,,,"]}]}"#,
            r#"{"data":[{"embedding":[[1,2],3]}]}"#,
            // Too large for an f32: the deserializer refuses it.
            r#"{"data":[{"embedding":[1e300]}]}"#,
            r#"{"data":[{"embedding":[-3.5e38]}]}"#,
            r#"{"data":[{"embedding":[1e99999999999]}]}"#,
            // Not JSON, or not the reply's shape.
            r#"{"data":[{"embedding":[1,2,]}]}"#,
            r#"{"data":{"embedding":[1]}}"#,
            r#"{"data":[{"embedding":[1]}],"model":5}"#,
            "[1,2]",
        ] {
            assert!(read_fast(body.as_bytes()).is_none(), "read fast: {body}");
            match (parsed(body), derived(body)) {
                (Ok(fast), Ok(slow)) => assert_eq!(fast, slow, "{body}"),
                (Err(fast), Err(slow)) => assert_eq!(fast.to_string(), slow.to_string(), "{body}"),
                (fast, slow) => panic!("{body}: {fast:?} against {slow:?}"),
            }
        }
    }

    /// The `f32`s of a reply's first vector, as bits (so that `-0.0` and `0.0` differ).
    fn bits(reply: &EmbeddingResponse) -> Vec<u32> {
        reply.data[0]
            .embedding
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    #[test]
    fn integers_are_cast_as_the_deserializer_casts_them() {
        let pieces = [
            "0",
            "-0",
            "16777217",
            "-16777217",
            "9007199254740993",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551616",
            "99999999999999999999999999",
            "-0.0",
            "0e999999999999",
            "-0e999999999999",
            "1e-400",
            "3.4028235e38",
            "-3.4028234e38",
            "1.401298e-45",
            "123456789012345678901234567890.5e-3",
        ];
        let body = format!(r#"{{"data":[{{"embedding":[{}]}}]}}"#, pieces.join(","));
        fast_and_same(&body);
        assert_eq!(
            bits(&parsed(&body).unwrap()),
            bits(&derived(&body).unwrap())
        );
    }

    /// One array element, in one of the ways a server may write a number.
    fn piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        // Any finite f64 within f32's range (one beyond is refused, and tested above).
        let max = f64::from(f32::MAX);
        let finite =
            (proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO)
                .prop_map(move |v| v.clamp(-max, max));
        prop_oneof![
            finite.clone().prop_map(|v| format!("{}", v as f32)),
            finite.clone().prop_map(|v| format!("{v}")),
            finite.clone().prop_map(|v| format!("{v:e}")),
            finite.prop_map(|v| format!(" {:E} ", v as f32)),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            any::<i128>().prop_map(|v| v.to_string()),
            // Halfway between two neighbouring f32s (exact in an f64), where rounding ties.
            (0u32..0x7f7f_ffff).prop_map(|bits| {
                let (low, high) = (f32::from_bits(bits), f32::from_bits(bits + 1));
                format!("{}", (f64::from(low) + f64::from(high)) / 2.0)
            }),
        ]
    }

    proptest::proptest! {
        #[test]
        fn random_vectors_read_the_same_either_way(
            pieces in proptest::collection::vec(piece(), 0..40),
        ) {
            let body = format!(r#"{{"data":[{{"embedding":[{}],"index":0}}],"model":"m"}}"#, pieces.join(","));
            proptest::prop_assert!(read_fast(body.as_bytes()).is_some());
            let (fast, slow) = (parsed(&body).unwrap(), derived(&body).unwrap());
            proptest::prop_assert_eq!(bits(&fast), bits(&slow));
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
