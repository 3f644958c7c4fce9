//! The image a node boots: the request's own, or the newest Ubuntu that Canonical publishes in
//! the region for the instance's architecture (found once per region and architecture).

use sky_core::error::{Error, ErrorKind, Result, Scope};
use sky_core::provision::LaunchRequest;

use crate::error::from_sdk;
use crate::provision::{AwsProvisioner, CANONICAL_OWNER, arch_of, filter};

/// The default image found for a region and architecture.
#[derive(Clone, Debug)]
pub(crate) struct Image {
    pub(crate) id: String,
    pub(crate) root_device: String,
}

impl AwsProvisioner {
    /// The image to boot: the request's, or the newest Ubuntu 22.04 (else the newest
    /// Ubuntu) that Canonical publishes in the region for the instance's architecture.
    pub(crate) async fn image(&self, req: &LaunchRequest) -> Result<Image> {
        let region = req.cluster.region.as_str();
        let client = self.client(region);
        let at = Self::at(region, None, Some(&req.instance_type));
        if let Some(id) = &req.image_id {
            let out = client
                .describe_images()
                .image_ids(id)
                .send()
                .await
                .map_err(|e| from_sdk("DescribeImages", e, at.clone()))?;
            let root = out
                .images()
                .first()
                .and_then(|i| i.root_device_name())
                .unwrap_or("/dev/sda1");
            return Ok(Image {
                id: id.clone(),
                root_device: root.to_owned(),
            });
        }
        let arch = arch_of(&req.instance_type);
        let key = (region.to_owned(), arch);
        if let Some(img) = self
            .images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(img.clone());
        }
        let out = client
            .describe_images()
            .owners(CANONICAL_OWNER)
            .filters(filter(
                "name",
                [format!(
                    "ubuntu/images/hvm-ssd*/ubuntu-*-{}-server-*",
                    match arch {
                        "arm64" => "arm64",
                        _ => "amd64",
                    }
                )],
            ))
            .filters(filter("state", ["available"]))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeImages", e, at.clone()))?;
        let best = out
            .images()
            .iter()
            .filter(|i| i.image_id().is_some())
            .max_by_key(|i| {
                (
                    i.name().is_some_and(|n| n.contains("22.04")),
                    i.creation_date().unwrap_or("").to_owned(),
                    i.image_id().unwrap_or("").to_owned(),
                )
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    format!("no Ubuntu image for {arch} published by Canonical in {region}; set the task's image_id"),
                )
                .with_scope(Scope::Region)
                .with_placement(at.clone())
            })?;
        let img = Image {
            id: best.image_id().unwrap_or_default().to_owned(),
            root_device: best.root_device_name().unwrap_or("/dev/sda1").to_owned(),
        };
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, img.clone());
        Ok(img)
    }
}
