//! Azure OpenAI: the OpenAI protocol's bodies and replies, under Azure's URLs and auth.
//!
//! With `base_url: https://{resource}.openai.azure.com`, each role's `model` is a deployment
//! name and calls go to `/openai/deployments/{model}/chat/completions` (and `/embeddings`,
//! `/images/generations`, `/audio/speech`, `/audio/transcriptions`) with
//! `?api-version={api_version}` ([`AZURE_API_VERSION`] unless the provider sets
//! `api_version`). These URLs are built the first time a deployment is called and kept.
//! The body still names the model (Azure ignores it).
//!
//! With a base URL ending in `/openai/v1` (Azure's OpenAI-compatible v1 API), calls go to
//! `{base_url}/chat/completions` and so on as for any OpenAI-compatible server, the model in
//! the body, no `api-version` (the provider's `api_version` is not used there).
//!
//! Either way the key is sent in the `api-key` header, or, when it is given with
//! `HubBuilder::azure_ad_token`, as `Authorization: Bearer <token>` (Microsoft Entra ID).

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::HeaderName;

use crate::client::kind::Payload;
use crate::client::params::MergedParams;
use crate::client::protocol::openai::OpenAi;
use crate::client::protocol::{Body, Endpoints, PerModel, Routes, StreamDecoder, WireProtocol};
use crate::client::response::ChatResponse;
use crate::config::{AZURE_API_VERSION, ProviderConfig};

/// The Azure OpenAI protocol.
pub(crate) struct Azure;

/// The OpenAI protocol whose bodies and replies Azure shares (Azure keeps `max_tokens`).
const OPENAI: &OpenAi = &OpenAi::COMPATIBLE;

/// The path suffix of Azure's OpenAI-compatible v1 API.
const V1_SUFFIX: &str = "/openai/v1";

impl WireProtocol for Azure {
    /// The v1 API's URLs: the OpenAI paths under `base_url`.
    fn endpoints(&self, base_url: &str) -> std::result::Result<Endpoints, String> {
        OPENAI.endpoints(base_url)
    }

    fn routes(&self, provider: &ProviderConfig) -> std::result::Result<Routes, String> {
        let base_url = provider.base_url.as_str();
        if base_url.ends_with(V1_SUFFIX) {
            return self.endpoints(base_url).map(Routes::Fixed);
        }
        let base = Url::parse(base_url).map_err(|e| e.to_string())?;
        let version = provider
            .api_version
            .clone()
            .unwrap_or_else(|| AZURE_API_VERSION.to_owned());
        let root = format!("{base_url}/openai/deployments/");
        Ok(Routes::PerModel(PerModel::new(
            base.clone(),
            move |model| deployment_endpoints(&base, &root, model, &version),
        )))
    }

    fn auth_header(&self) -> HeaderName {
        HeaderName::from_static("api-key")
    }

    fn auth_value(&self, key: &str) -> String {
        key.to_owned()
    }

    fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Body, String> {
        OPENAI.encode(model, payload, params)
    }

    fn decode_chat(&self, body: Bytes) -> serde_json::Result<ChatResponse> {
        OPENAI.decode_chat(body)
    }

    fn stream_decoder(&self) -> StreamDecoder {
        OPENAI.stream_decoder()
    }
}

/// The URLs of deployment `model`: `{root}{model}/{path}?api-version={version}`.
fn deployment_endpoints(
    base: &Url,
    root: &str,
    model: &str,
    version: &str,
) -> std::result::Result<Endpoints, String> {
    if model.bytes().all(|b| b == b'.')
        || !model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "`{model}` is not an Azure deployment name (letters, digits, `-`, `_` and `.`); set the role's `model` to the deployment's name"
        ));
    }
    let url = |path: &str| {
        Url::parse(&format!("{root}{model}/{path}?api-version={version}"))
            .map_err(|e| e.to_string())
    };
    Ok(Endpoints {
        base: base.clone(),
        chat: Some(url("chat/completions")?),
        embeddings: Some(url("embeddings")?),
        images: Some(url("images/generations")?),
        speech: Some(url("audio/speech")?),
        transcriptions: Some(url("audio/transcriptions")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_urls_name_the_model_and_version() {
        let base = Url::parse("https://res.openai.azure.com").unwrap();
        let root = "https://res.openai.azure.com/openai/deployments/";
        let endpoints = deployment_endpoints(&base, root, "gpt-4o.mini_1", "2024-10-21").unwrap();
        assert_eq!(
            endpoints.chat.unwrap().as_str(),
            "https://res.openai.azure.com/openai/deployments/gpt-4o.mini_1/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            endpoints.embeddings.unwrap().as_str(),
            "https://res.openai.azure.com/openai/deployments/gpt-4o.mini_1/embeddings?api-version=2024-10-21"
        );
        for bad in ["", "..", "a/b", "a?b", "a b", "../x"] {
            assert!(
                deployment_endpoints(&base, root, bad, "2024-10-21").is_err(),
                "{bad}"
            );
        }
    }
}
