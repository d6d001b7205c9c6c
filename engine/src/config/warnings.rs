//! Warnings of the project file being loaded (a password file readable by others, a URL in
//! clear text the file allowed): collected per thread, handed to the caller with the project.

thread_local! {
    /// Warnings of the project file being loaded on this thread (see `Project::warnings`).
    pub(super) static LOAD_WARNINGS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A warning of the file being loaded (shown on stderr and in the log by the caller).
pub(super) fn load_warning(msg: String) {
    tracing::warn!("{msg}");
    LOAD_WARNINGS.with(|w| w.borrow_mut().push(msg));
}
