//! The EC2 error table: every AWS error code sky acts on, mapped to an [`ErrorKind`] and a
//! [`Scope`] in one place ([`classify`]), and the conversion of SDK errors into
//! [`sky_core::error::Error`] ([`from_sdk`]).
//!
//! Each arm quotes the sentence of the AWS documentation ("Error codes for the Amazon EC2
//! API", and the common errors every AWS query API returns) that justifies it. Codes that are
//! not in the table fall back on their HTTP status: 5xx and 429 are transient, 401/403 are
//! auth, anything else is unexpected (zonal, so the broker tries elsewhere).
//!
//! | codes | kind | scope |
//! | --- | --- | --- |
//! | `InsufficientInstanceCapacity`, `InsufficientHostCapacity`, `InsufficientCapacity`, `SpotMaxPriceTooLow`, `Unsupported`, `InsufficientFreeAddressesInSubnet` | capacity | zone |
//! | `UnsupportedOperation` (e.g. stopping a one-time spot instance) | unsupported | zone |
//! | `VcpuLimitExceeded`, `MaxSpotInstanceCountExceeded`, `InstanceLimitExceeded`, `ResourceLimitExceeded` | quota | region |
//! | `OptInRequired` | auth | region |
//! | `AuthFailure`, `UnauthorizedOperation`, `Blocked`, `PendingVerification`, `ExpiredToken`, `RequestExpired`, `InvalidClientTokenId`, `SignatureDoesNotMatch`, ... | auth | cloud |
//! | `RequestLimitExceeded`, `Throttling`, `InternalError`, `ServiceUnavailable`, `Unavailable`, HTTP 5xx/429 | transient | zone |
//! | `InvalidParameterValue`, `InvalidParameterCombination`, `MissingParameter`, `InvalidAMIID.*`, `*.Malformed` | invalid request | zone (the broker aborts) |
//! | `*.NotFound` | not found | zone |
//! | `*.Duplicate` | already exists | zone |

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use sky_core::error::{Error, ErrorKind, Placement, Scope};

/// Classifies an EC2 error by its code (and, when the code is unknown, its HTTP status).
///
/// `message` is used only to recognise expired credentials hidden behind a generic code; the
/// failover loop never sees anything but the returned kind and scope.
pub fn classify(code: Option<&str>, message: &str, http_status: Option<u16>) -> (ErrorKind, Scope) {
    use ErrorKind::*;
    let by_code = code.and_then(|code| match code {
        // "There is not enough capacity to fulfill your request. This error can occur if you
        // launch a new instance, restart a stopped instance, create a new Capacity
        // Reservation, or modify an existing Capacity Reservation. Reduce the number of
        // instances in your request, or wait for additional capacity to become available. You
        // can also try launching an instance by selecting different instance types ... or by
        // not specifying an Availability Zone in your request."
        "InsufficientInstanceCapacity" => Some((Capacity, Scope::Zone)),
        // "There is not enough capacity to fulfill your Dedicated Host request."
        "InsufficientHostCapacity" => Some((Capacity, Scope::Zone)),
        // "There is not enough capacity to fulfill your import instance request."
        "InsufficientCapacity" => Some((Capacity, Scope::Zone)),
        // "The specified subnet does not contain enough free private IP addresses to fulfill
        // your request."
        "InsufficientFreeAddressesInSubnet" => Some((Capacity, Scope::Zone)),
        // "The request can't be fulfilled because the Spot maximum price (bid) is lower than the
        // Spot price."
        "SpotMaxPriceTooLow" => Some((Capacity, Scope::Zone)),
        // "The specified request is unsupported. For example, you might be trying to launch an
        // instance in an Availability Zone that currently has constraints on that instance
        // type."
        "Unsupported" => Some((Capacity, Scope::Zone)),
        // "The specified request includes an unsupported operation. For example, you can't
        // stop an instance that's instance store-backed." (Also: stopping a one-time Spot
        // Instance.)
        "UnsupportedOperation" => Some((ErrorKind::Unsupported, Scope::Zone)),
        // "You've reached the limit on the number of vCPUs (virtual processing units) assigned
        // to the running instances in your account." (vCPU quotas are per region.)
        "VcpuLimitExceeded" => Some((Quota, Scope::Region)),
        // "You've reached the limit on the number of Spot Instances that you can launch."
        "MaxSpotInstanceCountExceeded" => Some((Quota, Scope::Region)),
        // "You've reached the limit on the number of instances you can run concurrently."
        "InstanceLimitExceeded" => Some((Quota, Scope::Region)),
        // "You've reached the limit on the number of resources that can be created."
        "ResourceLimitExceeded" => Some((Quota, Scope::Region)),
        // "You are not authorized to use the requested service. Ensure that you have
        // subscribed to the service you are trying to use." (An opt-in region that is not
        // enabled: other regions still work.)
        "OptInRequired" => Some((Auth, Scope::Region)),
        // "The provided credentials could not be validated. You might not be authorized to
        // carry out the request ... Ensure that your account is authorized to use the Amazon
        // EC2 service, that your credit card details are correct, and that you are using the
        // correct credentials."
        "AuthFailure" => Some((Auth, Scope::Cloud)),
        // "You are not authorized to perform this operation."
        "UnauthorizedOperation" => Some((Auth, Scope::Cloud)),
        // "Your account is currently blocked. Contact Support if you have questions."
        "Blocked" => Some((Auth, Scope::Cloud)),
        // "Your account is pending verification. Until the verification process is complete,
        // you might not be able to carry out requests with this account."
        "PendingVerification" => Some((Auth, Scope::Cloud)),
        // Common errors: "The security token included in the request is expired";
        // "The request reached the service more than 15 minutes after the date stamp on the
        // request or more than 15 minutes after the request expiration date"; "The X.509
        // certificate or AWS access key ID provided does not exist in our records"; "The
        // request signature we calculated does not match the signature you provided";
        // "The request must contain either a valid (registered) AWS access key ID or X.509
        // certificate".
        "ExpiredToken"
        | "ExpiredTokenException"
        | "RequestExpired"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken"
        | "IncompleteSignature"
        | "AccessDenied"
        | "AccessDeniedException" => Some((Auth, Scope::Cloud)),
        // "The maximum request rate permitted by the Amazon EC2 APIs has been exceeded for your
        // account. For best results, use an increasing or variable sleep interval between
        // requests."
        "RequestLimitExceeded" => Some((Transient, Scope::Zone)),
        // Common error: "The request was denied due to request throttling."
        "Throttling" | "ThrottlingException" => Some((Transient, Scope::Zone)),
        // "An internal error has occurred. Retry your request, but if the problem persists,
        // contact us with details by posting a message on AWS re:Post."
        "InternalError" | "InternalFailure" => Some((Transient, Scope::Zone)),
        // "The request has failed due to a temporary failure of the server."
        "ServiceUnavailable" => Some((Transient, Scope::Zone)),
        // "The server is overloaded and can't handle the request."
        "Unavailable" => Some((Transient, Scope::Zone)),
        // "A value specified in a parameter is not valid, is unsupported, or cannot be used.
        // Ensure that you specify a resource by using its full ID."
        "InvalidParameterValue" => Some((InvalidRequest, Scope::Zone)),
        // "Indicates an incorrect combination of parameters, or a missing parameter."
        "InvalidParameterCombination" => Some((InvalidRequest, Scope::Zone)),
        // "A parameter specified in a request is not valid, is unsupported, or cannot be
        // used."
        "InvalidParameter" | "UnknownParameter" => Some((InvalidRequest, Scope::Zone)),
        // "The request is missing a required parameter."
        "MissingParameter" => Some((InvalidRequest, Scope::Zone)),
        // "The specified AMI ID is not valid." / "The specified AMI doesn't exist."
        "InvalidAMIID.Malformed" | "InvalidAMIID.NotFound" | "InvalidAMIID.Unavailable" => {
            Some((InvalidRequest, Scope::Zone))
        }
        // "The specified resource ID was not found" style codes end in `.NotFound`, e.g.
        // `InvalidInstanceID.NotFound`: "The specified instance does not exist."
        c if c.ends_with(".NotFound") => Some((NotFound, Scope::Zone)),
        // `InvalidKeyPair.Duplicate`: "The key pair name already exists";
        // `InvalidGroup.Duplicate`: "The security group name already exists";
        // `InvalidPermission.Duplicate`: "The specified inbound or outbound rule already
        // exists for that security group."
        c if c.ends_with(".Duplicate") => Some((AlreadyExists, Scope::Zone)),
        // `InvalidInstanceID.Malformed`: "The specified instance ID is malformed."
        c if c.ends_with(".Malformed") => Some((InvalidRequest, Scope::Zone)),
        _ => None,
    });
    if let Some(hit) = by_code {
        return hit;
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("expired") && (lower.contains("token") || lower.contains("credential")) {
        return (Auth, Scope::Cloud);
    }
    match http_status {
        Some(429) => (Transient, Scope::Zone),
        Some(s) if s >= 500 => (Transient, Scope::Zone),
        Some(401 | 403) => (Auth, Scope::Cloud),
        _ => (Unexpected, Scope::Zone),
    }
}

/// Converts an SDK error from an EC2 call into sky's error, classified by [`classify`], with
/// the AWS code kept in [`Error::code`] and the placement of the call.
pub fn from_sdk<E>(operation: &str, err: SdkError<E, HttpResponse>, at: Placement) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (kind, scope, code, message) = match &err {
        SdkError::TimeoutError(_) => (
            ErrorKind::Transient,
            Scope::Zone,
            None,
            "request timed out".to_owned(),
        ),
        SdkError::DispatchFailure(d) => {
            let (kind, scope) = if d.is_io() || d.is_timeout() {
                (ErrorKind::Transient, Scope::Zone)
            } else {
                // Most often no credentials could be resolved.
                (ErrorKind::Auth, Scope::Cloud)
            };
            (
                kind,
                scope,
                None,
                format!("request not sent: {}", chain(&err)),
            )
        }
        SdkError::ConstructionFailure(_) => (
            ErrorKind::InvalidRequest,
            Scope::Zone,
            None,
            format!("request could not be built: {}", chain(&err)),
        ),
        _ => {
            let code = err.code().map(str::to_owned);
            let msg = err.message().unwrap_or("").to_owned();
            let (kind, scope) = classify(code.as_deref(), &msg, status);
            let msg = if msg.is_empty() { chain(&err) } else { msg };
            (kind, scope, code, msg)
        }
    };
    let mut e = Error::new(kind, format!("{operation}: {message}"))
        .with_scope(scope)
        .with_placement(at);
    if let Some(c) = code {
        e = e.with_code(c);
    }
    e.with_source(err)
}

/// The error and its sources, joined with `: ` (SDK errors hide the cause in `source()`).
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind::*;

    /// (code, http status, expected kind, expected scope): one row per documented code.
    const TABLE: &[(&str, u16, ErrorKind, Scope)] = &[
        ("InsufficientInstanceCapacity", 500, Capacity, Scope::Zone),
        ("InsufficientHostCapacity", 500, Capacity, Scope::Zone),
        ("InsufficientCapacity", 500, Capacity, Scope::Zone),
        (
            "InsufficientFreeAddressesInSubnet",
            400,
            Capacity,
            Scope::Zone,
        ),
        ("SpotMaxPriceTooLow", 400, Capacity, Scope::Zone),
        ("Unsupported", 400, Capacity, Scope::Zone),
        ("UnsupportedOperation", 400, Unsupported, Scope::Zone),
        ("VcpuLimitExceeded", 400, Quota, Scope::Region),
        ("MaxSpotInstanceCountExceeded", 400, Quota, Scope::Region),
        ("InstanceLimitExceeded", 400, Quota, Scope::Region),
        ("ResourceLimitExceeded", 400, Quota, Scope::Region),
        ("OptInRequired", 401, Auth, Scope::Region),
        ("AuthFailure", 401, Auth, Scope::Cloud),
        ("UnauthorizedOperation", 403, Auth, Scope::Cloud),
        ("Blocked", 403, Auth, Scope::Cloud),
        ("PendingVerification", 400, Auth, Scope::Cloud),
        ("ExpiredToken", 400, Auth, Scope::Cloud),
        ("RequestExpired", 400, Auth, Scope::Cloud),
        ("InvalidClientTokenId", 403, Auth, Scope::Cloud),
        ("SignatureDoesNotMatch", 403, Auth, Scope::Cloud),
        ("RequestLimitExceeded", 503, Transient, Scope::Zone),
        ("Throttling", 400, Transient, Scope::Zone),
        ("InternalError", 500, Transient, Scope::Zone),
        ("ServiceUnavailable", 503, Transient, Scope::Zone),
        ("Unavailable", 503, Transient, Scope::Zone),
        ("InvalidParameterValue", 400, InvalidRequest, Scope::Zone),
        (
            "InvalidParameterCombination",
            400,
            InvalidRequest,
            Scope::Zone,
        ),
        ("MissingParameter", 400, InvalidRequest, Scope::Zone),
        ("InvalidAMIID.NotFound", 400, InvalidRequest, Scope::Zone),
        ("InvalidAMIID.Malformed", 400, InvalidRequest, Scope::Zone),
        (
            "InvalidInstanceID.Malformed",
            400,
            InvalidRequest,
            Scope::Zone,
        ),
        ("InvalidInstanceID.NotFound", 400, NotFound, Scope::Zone),
        ("InvalidGroup.NotFound", 400, NotFound, Scope::Zone),
        ("InvalidKeyPair.Duplicate", 400, AlreadyExists, Scope::Zone),
        (
            "InvalidPermission.Duplicate",
            400,
            AlreadyExists,
            Scope::Zone,
        ),
    ];

    #[test]
    fn every_documented_code_maps_to_its_kind_and_scope() {
        for &(code, status, kind, scope) in TABLE {
            assert_eq!(
                classify(Some(code), "", Some(status)),
                (kind, scope),
                "code {code}"
            );
            // The code decides, whatever the status says.
            assert_eq!(classify(Some(code), "", Some(400)), (kind, scope), "{code}");
        }
    }

    #[test]
    fn unknown_codes_fall_back_on_the_http_status() {
        assert_eq!(
            classify(Some("Whatever"), "", Some(502)),
            (Transient, Scope::Zone)
        );
        assert_eq!(classify(None, "", Some(429)), (Transient, Scope::Zone));
        assert_eq!(classify(None, "", Some(403)), (Auth, Scope::Cloud));
        assert_eq!(
            classify(Some("Whatever"), "", Some(400)),
            (Unexpected, Scope::Zone)
        );
        assert_eq!(classify(None, "", None), (Unexpected, Scope::Zone));
    }

    #[test]
    fn expired_credentials_behind_a_generic_code_are_auth() {
        assert_eq!(
            classify(
                Some("Whatever"),
                "The security token included in the request is expired",
                Some(400)
            ),
            (Auth, Scope::Cloud)
        );
    }

    #[test]
    fn kinds_agree_with_the_default_scopes_except_where_documented() {
        // Capacity is zonal and quota regional by default too; the table never widens a
        // capacity error, which is what lets the broker try the next zone.
        for &(code, _, kind, scope) in TABLE {
            if kind == Capacity {
                assert_eq!(scope, Scope::Zone, "{code}");
            }
            if kind == Quota {
                assert_eq!(scope, Scope::Region, "{code}");
            }
        }
    }

    #[test]
    fn sdk_errors_keep_their_code_status_and_placement() {
        use aws_sdk_ec2::error::ErrorMetadata;
        use aws_sdk_ec2::operation::run_instances::RunInstancesError;
        use sky_core::CloudId;

        let at = Placement {
            cloud: Some(CloudId::Aws),
            region: Some("us-east-1".into()),
            zone: Some("us-east-1a".into()),
            instance_type: Some("m6i.xlarge".into()),
        };
        let service = |code: &str, status: u16| {
            let meta = ErrorMetadata::builder()
                .code(code)
                .message("We currently do not have sufficient capacity")
                .build();
            let raw = HttpResponse::new(status.try_into().unwrap(), "".into());
            SdkError::service_error(RunInstancesError::generic(meta), raw)
        };
        let e = from_sdk(
            "RunInstances",
            service("InsufficientInstanceCapacity", 500),
            at.clone(),
        );
        assert_eq!((e.kind(), e.scope()), (Capacity, Scope::Zone));
        assert_eq!(e.code(), Some("InsufficientInstanceCapacity"));
        assert_eq!(e.placement(), &at);
        assert!(
            e.message()
                .starts_with("RunInstances: We currently do not have"),
            "{e}"
        );
        let e = from_sdk("RunInstances", service("SomethingNew", 503), at.clone());
        assert_eq!((e.kind(), e.code()), (Transient, Some("SomethingNew")));
        let timeout: SdkError<RunInstancesError, HttpResponse> = SdkError::timeout_error("slow");
        let e = from_sdk("RunInstances", timeout, at);
        assert_eq!((e.kind(), e.code()), (Transient, None));
    }
}
