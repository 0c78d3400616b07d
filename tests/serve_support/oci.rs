//! Small real OCI images, built byte for byte the same every time: one gzip'd tar layer holding a
//! single file, a config with fixed `created` and the given labels. Pushed through the distribution API
//! (blob upload, then manifest PUT).

use std::io::Write as _;

use sha2::{Digest as _, Sha256};

use super::Registry;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// A tar archive of one regular file, ustar format, owner 0, mtime 0.
fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let field = |header: &mut [u8; 512], offset: usize, value: &[u8]| {
        header[offset..offset + value.len()].copy_from_slice(value);
    };
    field(&mut header, 0, name.as_bytes());
    field(&mut header, 100, b"0000644\0");
    field(&mut header, 108, b"0000000\0");
    field(&mut header, 116, b"0000000\0");
    field(
        &mut header,
        124,
        format!("{:011o}\0", content.len()).as_bytes(),
    );
    field(&mut header, 136, b"00000000000\0");
    field(&mut header, 148, b"        ");
    header[156] = b'0';
    field(&mut header, 257, b"ustar\0");
    field(&mut header, 263, b"00");
    let checksum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    field(&mut header, 148, format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// One platform's image, pushed blob by blob; the manifest itself is not pushed yet.
pub struct Image {
    pub manifest: Vec<u8>,
    pub platform: serde_json::Value,
}

/// Canonical JSON (sorted keys, no spaces).
fn canonical(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

impl Registry {
    /// Upload `bytes` as a blob of `repository` (monolithic: POST, then PUT with the digest).
    pub async fn push_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = digest(bytes);
        let started = self
            .request(
                reqwest::Method::POST,
                &format!("/v2/{repository}/blobs/uploads/"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(started.status().as_u16(), 202, "{:?}", started.text().await);
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let location = match location.strip_prefix(&self.url()) {
            Some(path) => path.to_string(),
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let done = self
            .request(
                reqwest::Method::PUT,
                &format!("{location}{separator}digest={digest}"),
            )
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(done.status().as_u16(), 201, "{:?}", done.text().await);
        digest
    }

    /// PUT a manifest under `reference`; returns the registry's `Docker-Content-Digest`.
    pub async fn push_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let response = self
            .request(
                reqwest::Method::PUT,
                &format!("/v2/{repository}/manifests/{reference}"),
            )
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let digest = response
            .headers()
            .get("docker-content-digest")
            .map(|value| value.to_str().unwrap().to_string());
        assert_eq!(status, 201, "{:?}", response.text().await);
        digest.unwrap()
    }

    /// Build and upload the blobs of an image for `platform` (`linux/arm64/v8`) with `labels`.
    pub async fn image(&self, repository: &str, platform: &str, labels: &[(&str, &str)]) -> Image {
        let mut parts = platform.split('/');
        let (os, architecture, variant) =
            (parts.next().unwrap(), parts.next().unwrap(), parts.next());
        let tar = tar_of(
            "etc/fave-image",
            format!("{repository} {platform}\n").as_bytes(),
        );
        let layer = gzip(&tar);
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(key, value)| ((*key).to_string(), serde_json::Value::from(*value)))
            .collect();
        let mut config = serde_json::json!({
            "architecture": architecture,
            "os": os,
            "created": "2026-11-01T12:00:00Z",
            "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [digest(&tar)]},
        });
        let mut platform_json = serde_json::json!({"os": os, "architecture": architecture});
        if let Some(variant) = variant {
            config["variant"] = variant.into();
            platform_json["variant"] = variant.into();
        }
        let config = canonical(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self.push_blob(repository, &config).await,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": self.push_blob(repository, &layer).await,
                "size": layer.len(),
            }],
        });
        Image {
            manifest: canonical(&manifest),
            platform: platform_json,
        }
    }

    /// Push a single-platform image under every tag of `tags`; returns the registry's digest.
    pub async fn push_image(
        &self,
        repository: &str,
        tags: &[&str],
        platform: &str,
        labels: &[(&str, &str)],
    ) -> String {
        let image = self.image(repository, platform, labels).await;
        let mut digest = String::new();
        for tag in tags {
            digest = self
                .push_manifest(repository, tag, OCI_MANIFEST, &image.manifest)
                .await;
        }
        digest
    }

    /// Push an OCI index of one image per platform under every tag of `tags`; returns the registry's
    /// digest of the index and of each platform's manifest.
    pub async fn push_index(
        &self,
        repository: &str,
        tags: &[&str],
        platforms: &[&str],
        labels: &[(&str, &str)],
    ) -> (String, Vec<String>) {
        let mut entries = Vec::new();
        let mut children = Vec::new();
        for platform in platforms {
            let image = self.image(repository, platform, labels).await;
            let child = self
                .push_manifest(
                    repository,
                    &digest(&image.manifest),
                    OCI_MANIFEST,
                    &image.manifest,
                )
                .await;
            entries.push(serde_json::json!({
                "mediaType": OCI_MANIFEST,
                "digest": child,
                "size": image.manifest.len(),
                "platform": image.platform,
            }));
            children.push(child);
        }
        let index = canonical(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        }));
        let mut digest = String::new();
        for tag in tags {
            digest = self.push_manifest(repository, tag, OCI_INDEX, &index).await;
        }
        (digest, children)
    }
}
