//! What a CloudFormation stack status means for us.

/// The phase a stack status string puts the stack in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Still changing: keep watching.
    InProgress,
    /// Done, and what was asked happened.
    Succeeded,
    /// Done, and it did not (rolled back or failed).
    Failed,
}

/// The phase of `status` (e.g. `UPDATE_ROLLBACK_COMPLETE` is a failure:
/// the update did not happen).
#[must_use]
pub fn phase(status: &str) -> Phase {
    if status.ends_with("_IN_PROGRESS") {
        Phase::InProgress
    } else if status.contains("ROLLBACK") || status.ends_with("_FAILED") {
        Phase::Failed
    } else {
        Phase::Succeeded
    }
}

/// Whether a stack in `status` can only be deleted, not updated (its
/// creation failed and rolled back).
#[must_use]
pub fn needs_recreate(status: &str) -> bool {
    matches!(status, "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED")
}

/// Whether a failed change set failed only because there was nothing to
/// change — which for a deploy is success.
#[must_use]
pub fn is_no_change(reason: &str) -> bool {
    reason.contains("didn't contain changes")
        || reason.contains("No updates are to be performed")
        || reason.contains("does not contain changes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_phases() {
        for s in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            assert_eq!(phase(s), Phase::InProgress, "{s}");
        }
        for s in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "DELETE_COMPLETE",
            "IMPORT_COMPLETE",
        ] {
            assert_eq!(phase(s), Phase::Succeeded, "{s}");
        }
        for s in [
            "CREATE_FAILED",
            "ROLLBACK_COMPLETE",
            "ROLLBACK_FAILED",
            "UPDATE_ROLLBACK_COMPLETE",
            "UPDATE_FAILED",
            "DELETE_FAILED",
        ] {
            assert_eq!(phase(s), Phase::Failed, "{s}");
        }
        assert!(needs_recreate("ROLLBACK_COMPLETE"));
        assert!(!needs_recreate("UPDATE_ROLLBACK_COMPLETE"));
    }

    #[test]
    fn no_change_reasons_are_recognised() {
        assert!(is_no_change(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_no_change("No updates are to be performed."));
        assert!(!is_no_change("Template format error: unresolved resource"));
    }
}
