//! Fault injection: latency per operation, throttling, errors per account/region.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The MWAA operations the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operation {
    ListEnvironments,
    GetEnvironment,
    CreateEnvironment,
    DeleteEnvironment,
    CreateWebLoginToken,
    CreateCliToken,
    /// STS, answered by the same server.
    GetCallerIdentity,
}

/// Errors the server sends, named as in `x-amzn-ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    ResourceNotFoundException,
    ValidationException,
    ThrottlingException,
    AccessDeniedException,
    InternalServerException,
    ServiceUnavailableException,
    UnrecognizedClientException,
    MissingAuthenticationTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            Self::ResourceNotFoundException => 404,
            Self::ValidationException | Self::IncompleteSignatureException => 400,
            Self::ThrottlingException => 429,
            Self::AccessDeniedException
            | Self::UnrecognizedClientException
            | Self::MissingAuthenticationTokenException
            | Self::InvalidSignatureException => 403,
            Self::InternalServerException => 500,
            Self::ServiceUnavailableException => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::ValidationException => "ValidationException",
            Self::ThrottlingException => "ThrottlingException",
            Self::AccessDeniedException => "AccessDeniedException",
            Self::InternalServerException => "InternalServerException",
            Self::ServiceUnavailableException => "ServiceUnavailableException",
            Self::UnrecognizedClientException => "UnrecognizedClientException",
            Self::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            Self::IncompleteSignatureException => "IncompleteSignatureException",
            Self::InvalidSignatureException => "InvalidSignatureException",
        }
    }

    pub(crate) fn default_message(self) -> &'static str {
        match self {
            Self::ResourceNotFoundException => "Resource not found",
            Self::ValidationException => "Invalid request",
            Self::ThrottlingException => "Rate exceeded",
            Self::AccessDeniedException => {
                "User is not authorized to perform this action on this resource"
            }
            Self::InternalServerException => "Internal server error",
            Self::ServiceUnavailableException => "Service unavailable",
            Self::UnrecognizedClientException => {
                "The security token included in the request is invalid."
            }
            Self::MissingAuthenticationTokenException => "Missing Authentication Token",
            Self::IncompleteSignatureException => "Authorization header is malformed",
            Self::InvalidSignatureException => {
                "Credential should be scoped to correct service: 'airflow'."
            }
        }
    }
}

/// A rule making matching calls fail. Unset filters match everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    #[serde(default)]
    pub op: Option<Operation>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Only calls about this environment name.
    #[serde(default)]
    pub name: Option<String>,
    pub error: ErrorCode,
    #[serde(default)]
    pub message: Option<String>,
    /// How many more calls fail; `None`: until cleared.
    #[serde(default)]
    pub remaining: Option<u32>,
}

impl FaultRule {
    /// Every call fails with `error` until cleared; narrow it with the builder methods.
    pub fn new(error: ErrorCode) -> Self {
        Self {
            op: None,
            account: None,
            region: None,
            name: None,
            error,
            message: None,
            remaining: None,
        }
    }

    pub fn op(mut self, op: Operation) -> Self {
        self.op = Some(op);
        self
    }

    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Only the next `n` matching calls fail.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, call: &Call<'_>) -> bool {
        self.op.is_none_or(|op| op == call.op)
            && self.account.as_deref().is_none_or(|a| a == call.account)
            && self.region.as_deref().is_none_or(|r| r == call.region)
            && self.name.as_deref().is_none_or(|n| Some(n) == call.name)
            && self.remaining != Some(0)
    }
}

/// A fault as the admin route takes it (`POST /_airgate/faults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Fault {
    /// Delay every call of `op` by `millis` before answering.
    Latency { op: Operation, millis: u64 },
    /// The next `count` calls of `op` get `ThrottlingException`.
    Throttle { op: Operation, count: u32 },
    /// Calls matching the rule fail.
    Fail(FaultRule),
}

/// Active faults, as `GET /_airgate/faults` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSet {
    pub latency_millis: BTreeMap<Operation, u64>,
    pub rules: Vec<FaultRule>,
}

pub(crate) struct Call<'a> {
    pub op: Operation,
    pub account: &'a str,
    pub region: &'a str,
    pub name: Option<&'a str>,
}

/// Handle on the server's faults; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultSet>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultSet> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Delays every call of `op` (zero removes the delay).
    pub fn set_latency(&self, op: Operation, latency: Duration) {
        let mut set = self.lock();
        if latency.is_zero() {
            set.latency_millis.remove(&op);
        } else {
            set.latency_millis
                .insert(op, u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
        }
    }

    /// The next `n` calls of `op`, from anyone, get `ThrottlingException` (HTTP 429).
    pub fn throttle_next(&self, op: Operation, n: u32) {
        self.fail(
            FaultRule::new(ErrorCode::ThrottlingException)
                .op(op)
                .times(n),
        );
    }

    /// Adds a rule; the first matching rule decides a call.
    pub fn fail(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    pub fn apply(&self, fault: Fault) {
        match fault {
            Fault::Latency { op, millis } => self.set_latency(op, Duration::from_millis(millis)),
            Fault::Throttle { op, count } => self.throttle_next(op, count),
            Fault::Fail(rule) => self.fail(rule),
        }
    }

    /// Removes every fault.
    pub fn clear(&self) {
        *self.lock() = FaultSet::default();
    }

    pub fn snapshot(&self) -> FaultSet {
        self.lock().clone()
    }

    pub(crate) fn latency(&self, op: Operation) -> Option<Duration> {
        self.lock()
            .latency_millis
            .get(&op)
            .map(|ms| Duration::from_millis(*ms))
    }

    /// The error this call must fail with, consuming one use of a counted rule.
    pub(crate) fn take_error(&self, call: &Call<'_>) -> Option<(ErrorCode, String)> {
        let mut set = self.lock();
        let rule = set.rules.iter_mut().find(|rule| rule.matches(call))?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        let answer = (
            rule.error,
            rule.message
                .clone()
                .unwrap_or_else(|| rule.error.default_message().to_owned()),
        );
        set.rules.retain(|rule| rule.remaining != Some(0));
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(op: Operation, account: &'a str) -> Call<'a> {
        Call {
            op,
            account,
            region: "eu-west-1",
            name: None,
        }
    }

    #[test]
    fn counted_rules_run_out() {
        let faults = Faults::default();
        faults.throttle_next(Operation::ListEnvironments, 2);
        let list = call(Operation::ListEnvironments, "1");
        assert!(
            faults
                .take_error(&call(Operation::GetEnvironment, "1"))
                .is_none()
        );
        assert_eq!(
            faults.take_error(&list).map(|e| e.0),
            Some(ErrorCode::ThrottlingException)
        );
        assert!(faults.take_error(&list).is_some());
        assert!(faults.take_error(&list).is_none());
        assert!(faults.snapshot().rules.is_empty());
    }

    #[test]
    fn rules_are_scoped_to_account() {
        let faults = Faults::default();
        faults.fail(FaultRule::new(ErrorCode::AccessDeniedException).account("2"));
        assert!(
            faults
                .take_error(&call(Operation::ListEnvironments, "1"))
                .is_none()
        );
        assert!(
            faults
                .take_error(&call(Operation::ListEnvironments, "2"))
                .is_some()
        );
        assert!(
            faults
                .take_error(&call(Operation::ListEnvironments, "2"))
                .is_some()
        );
    }

    #[test]
    fn admin_fault_json() {
        let fault: Fault = serde_json::from_str(
            r#"{"kind":"fail","account":"1","error":"ThrottlingException","op":"ListEnvironments"}"#,
        )
        .expect("valid fault");
        assert_eq!(
            fault,
            Fault::Fail(
                FaultRule::new(ErrorCode::ThrottlingException)
                    .op(Operation::ListEnvironments)
                    .account("1")
            )
        );
    }
}
