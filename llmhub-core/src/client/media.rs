//! Inputs and responses of the image and audio modes: generated images,
//! audio files to transcribe, transcriptions and synthesized speech, and the checks made before
//! any request is sent.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The answer to an image generation call, OpenAI-shaped.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ImageResponse {
    /// Unix time the images were created (0 if the provider did not say).
    #[serde(default)]
    pub created: u64,
    /// The images, in order.
    #[serde(default)]
    pub data: Vec<GeneratedImage>,
    /// The response body as received, for fields llmhub does not model.
    #[serde(skip)]
    pub raw: Bytes,
    /// The provider that answered, for error messages.
    #[serde(skip)]
    provider: Option<Arc<str>>,
}

impl ImageResponse {
    /// Marks the reply and each image as coming from `provider`.
    pub(crate) fn answered_by(mut self, provider: &Arc<str>) -> ImageResponse {
        self.provider = Some(provider.clone());
        for image in &mut self.data {
            image.provider = Some(provider.clone());
        }
        self
    }

    /// The first image, if any.
    pub fn first(&self) -> Option<&GeneratedImage> {
        self.data.first()
    }

    /// The URLs of the images returned as URLs.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.data.iter().filter_map(|image| image.url.as_deref())
    }

    /// The provider's raw JSON.
    pub fn raw_json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.raw).map_err(|err| Error::Decode {
            provider: provider_name(&self.provider),
            message: err.to_string(),
        })
    }
}

/// One generated image: a URL, or base64 data (`response_format: b64_json`).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct GeneratedImage {
    /// Where the image can be downloaded (for `response_format: url`).
    #[serde(default)]
    pub url: Option<String>,
    /// The image, base64-encoded (for `response_format: b64_json`).
    #[serde(default)]
    pub b64_json: Option<String>,
    /// The prompt the model actually used, if it rewrote it.
    #[serde(default)]
    pub revised_prompt: Option<String>,
    /// The provider that answered, for error messages.
    #[serde(skip)]
    provider: Option<Arc<str>>,
}

/// The provider of a reply, for an error message about it.
fn provider_name(provider: &Option<Arc<str>>) -> String {
    provider
        .as_deref()
        .unwrap_or("the image provider")
        .to_owned()
}

impl GeneratedImage {
    /// The image's bytes, decoded from `b64_json`. An image returned only as a URL has no
    /// bytes here: ask for `response_format: b64_json` in the role's params, or download `url`.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        use base64::Engine as _;
        let Some(data) = &self.b64_json else {
            return Err(Error::Decode {
                provider: provider_name(&self.provider),
                message: "this image was returned as a URL, not as data; set `response_format: b64_json` in the role's params to get the bytes".into(),
            });
        };
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|err| Error::Decode {
                provider: provider_name(&self.provider),
                message: format!("the image's base64 data is invalid: {err}"),
            })
    }

    /// Decodes the image and writes it to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.bytes()?).map_err(|err| Error::Io {
            path: path.display().to_string(),
            message: err.to_string(),
        })
    }
}

/// An audio file to transcribe: its bytes and its file name (the provider tells the format by
/// the name's extension).
#[derive(Clone)]
pub struct AudioFile {
    /// The audio data.
    pub bytes: Bytes,
    /// The file name, such as `meeting.mp3`.
    pub file_name: String,
}

impl std::fmt::Debug for AudioFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioFile")
            .field("file_name", &self.file_name)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl AudioFile {
    /// Audio held in memory.
    pub fn new(bytes: impl Into<Bytes>, file_name: impl Into<String>) -> AudioFile {
        AudioFile {
            bytes: bytes.into(),
            file_name: file_name.into(),
        }
    }

    /// Reads an audio file from disk; its file name is the path's last component.
    pub fn from_path(path: impl AsRef<Path>) -> Result<AudioFile> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|err| Error::Io {
            path: path.display().to_string(),
            message: err.to_string(),
        })?;
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(AudioFile::new(bytes, file_name))
    }

    /// The MIME type of the file, from its extension, if it is an audio format the
    /// OpenAI-compatible transcription endpoints accept.
    pub fn mime_type(&self) -> Option<&'static str> {
        let extension = self.file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match extension.as_str() {
            "flac" => "audio/flac",
            "mp3" | "mpga" | "mpeg" => "audio/mpeg",
            "mp4" | "m4a" => "audio/mp4",
            "ogg" | "oga" => "audio/ogg",
            "wav" => "audio/wav",
            "webm" => "audio/webm",
            _ => return None,
        })
    }

    /// Checks the file before any request: not empty, and named like an audio file.
    pub fn check(&self, role: &str) -> Result<&'static str> {
        let invalid = |message: String| Error::InvalidInput {
            role: role.to_owned(),
            message,
        };
        if self.bytes.is_empty() {
            return Err(invalid(format!(
                "the audio file `{}` is empty",
                self.file_name
            )));
        }
        self.mime_type().ok_or_else(|| {
            invalid(format!(
                "`{}` is not an audio file name the provider accepts; use one ending in .flac, .mp3, .mp4, .mpeg, .mpga, .m4a, .ogg, .wav or .webm",
                self.file_name
            ))
        })
    }
}

/// A transcription: the text of an audio file.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Transcription {
    /// The transcribed text.
    #[serde(default)]
    pub text: String,
    /// The detected language, where the provider reports it.
    #[serde(default)]
    pub language: Option<String>,
    /// The audio's duration in seconds, where the provider reports it.
    #[serde(default)]
    pub duration: Option<f64>,
    /// The response body as received.
    #[serde(skip)]
    pub raw: Bytes,
}

/// Synthesized speech: the audio bytes the provider returned.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Speech {
    /// The audio data.
    pub bytes: Bytes,
    /// The `Content-Type` the provider sent, such as `audio/mpeg`.
    pub content_type: Option<String>,
}

impl Speech {
    /// Writes the audio to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, &self.bytes).map_err(|err| Error::Io {
            path: path.display().to_string(),
            message: err.to_string(),
        })
    }
}

/// What an audio role does, told from its model and params as the providers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioTask {
    /// Speech to text (`whisper-1`, `gpt-4o-transcribe`, …).
    Transcribe,
    /// Text to speech (`tts-1`, `gpt-4o-mini-tts`, or any role with a `voice` param).
    Speech,
}

impl AudioTask {
    /// The task of a role with `model`, whose params have a `voice` or not, if it can be told.
    ///
    /// ```
    /// use llmhub_core::media::AudioTask;
    /// assert_eq!(AudioTask::of("whisper-1", false), Some(AudioTask::Transcribe));
    /// assert_eq!(AudioTask::of("tts-1-hd", false), Some(AudioTask::Speech));
    /// assert_eq!(AudioTask::of("my-audio-model", true), Some(AudioTask::Speech));
    /// assert_eq!(AudioTask::of("my-audio-model", false), None);
    /// ```
    pub fn of(model: &str, has_voice: bool) -> Option<AudioTask> {
        let model = model.to_ascii_lowercase();
        if has_voice || model.contains("tts") || model.contains("speech") {
            Some(AudioTask::Speech)
        } else if model.contains("whisper") || model.contains("transcri") || model.contains("stt") {
            Some(AudioTask::Transcribe)
        } else {
            None
        }
    }

    /// Refuses `wanted` on a role whose model does the other task.
    pub fn check(role: &str, model: &str, has_voice: bool, wanted: AudioTask) -> Result<()> {
        match AudioTask::of(model, has_voice) {
            Some(task) if task != wanted => {
                let (does, call) = match task {
                    AudioTask::Transcribe => ("transcribes speech", ".transcribe(audio)"),
                    AudioTask::Speech => ("speaks text", ".speech(text)"),
                };
                Err(Error::InvalidInput {
                    role: role.to_owned(),
                    message: format!("its model `{model}` {does}; call {call} on this role"),
                })
            }
            _ => Ok(()),
        }
    }
}

/// The llmhub-only param that caps a prompt's length in characters; it is checked before any
/// request and never sent to the provider.
pub const PROMPT_LIMIT_PARAM: &str = "max_prompt_chars";

/// Checks that `prompt` is not empty and, if the role sets `max_prompt_chars` (`limit`), not
/// longer than that. The param itself is never sent to the provider.
pub fn check_prompt(role: &str, prompt: &str, limit: Option<&serde_json::Value>) -> Result<()> {
    let invalid = |message: String| Error::InvalidInput {
        role: role.to_owned(),
        message,
    };
    if prompt.trim().is_empty() {
        return Err(invalid("the prompt is empty".into()));
    }
    if let Some(limit) = limit {
        let Some(limit) = limit.as_u64() else {
            return Err(invalid(format!(
                "param `{PROMPT_LIMIT_PARAM}` must be a positive integer, found {limit}"
            )));
        };
        let chars = prompt.chars().count() as u64;
        if chars > limit {
            return Err(invalid(format!(
                "the prompt has {chars} characters; this role's `{PROMPT_LIMIT_PARAM}` allows {limit}; shorten it"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_responses_parse_leniently_and_decode() {
        let body = br#"{"created": 1700000000, "data": [{"b64_json": "aGVsbG8=", "revised_prompt": "a cat"}, {"url": "https://img/2.png"}], "extra": 1}"#;
        let mut response: ImageResponse = serde_json::from_slice(body).unwrap();
        response.raw = Bytes::from_static(body);
        assert_eq!(response.first().unwrap().bytes().unwrap(), b"hello");
        assert_eq!(response.urls().collect::<Vec<_>>(), ["https://img/2.png"]);
        assert!(
            response.data[1]
                .bytes()
                .unwrap_err()
                .to_string()
                .contains("b64_json")
        );
        assert_eq!(response.raw_json().unwrap()["extra"], 1);
        let empty: ImageResponse = serde_json::from_slice(b"{}").unwrap();
        assert!(empty.first().is_none());
        let bad = GeneratedImage {
            b64_json: Some("not base64!".into()),
            ..Default::default()
        };
        assert!(bad.bytes().unwrap_err().to_string().contains("invalid"));
    }

    #[test]
    fn audio_files_are_checked_before_any_request() {
        assert_eq!(
            AudioFile::new(vec![1, 2], "a.MP3").check("r").unwrap(),
            "audio/mpeg"
        );
        assert_eq!(
            AudioFile::new(vec![1], "a.wav").check("r").unwrap(),
            "audio/wav"
        );
        let empty = AudioFile::new(Vec::new(), "a.wav").check("r").unwrap_err();
        assert!(empty.to_string().contains("is empty"), "{empty}");
        let text = AudioFile::new(vec![1], "notes.txt").check("r").unwrap_err();
        assert!(
            text.to_string().contains("not an audio file name"),
            "{text}"
        );
        let nameless = AudioFile::new(vec![1], "audio").check("r").unwrap_err();
        assert!(matches!(nameless, Error::InvalidInput { .. }));
    }

    #[test]
    fn audio_task_follows_model_and_params() {
        assert_eq!(
            AudioTask::of("gpt-4o-transcribe", false),
            Some(AudioTask::Transcribe)
        );
        assert_eq!(
            AudioTask::of("gpt-4o-mini-tts", false),
            Some(AudioTask::Speech)
        );
        assert_eq!(AudioTask::of("custom", true), Some(AudioTask::Speech));
        let err = AudioTask::check("llm.voice", "whisper-1", false, AudioTask::Speech).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid input for role `llm.voice`: its model `whisper-1` transcribes speech; call .transcribe(audio) on this role"
        );
        assert!(AudioTask::check("r", "custom", false, AudioTask::Speech).is_ok());
    }

    #[test]
    fn prompt_limit_is_checked() {
        assert!(check_prompt("r", "a red cat", Some(&json!(10))).is_ok());
        assert!(check_prompt("r", "a red cat", None).is_ok());
        let err = check_prompt("r", "a red cat", Some(&json!(5))).unwrap_err();
        assert!(err.to_string().contains("9 characters"), "{err}");
        let err = check_prompt("r", "x", Some(&json!("ten"))).unwrap_err();
        assert!(err.to_string().contains("positive integer"), "{err}");
        let err = check_prompt("r", "  ", None).unwrap_err();
        assert!(err.to_string().contains("empty"));
    }
}
