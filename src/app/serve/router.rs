//! Which screen a connection reaches. A listener of one device (the only device, or a device's
//! own socket or port under `serve --all`) leads to that screen whatever the client asks; the
//! shared listeners of `serve --all` lead by the WebSocket's path, `/vm/NAME`, and answer the
//! index page and its thumbnails themselves.

use super::http::Pages;
use super::screen::Screen;
use std::sync::Arc;

/// Finds screens by the WebSocket path a client opened, and makes the pages that list them.
pub trait Router: Sync {
    /// The screen at `path` (a WebSocket's request path; `None` for a native client), or why
    /// there is none.
    fn screen(&self, path: Option<&str>) -> Result<Arc<Screen>, String>;
    /// The pages the router answers itself.
    fn pages(&self) -> &dyn Pages;
}

/// Where a connection goes.
pub enum Route<'a> {
    /// Its listener belongs to this screen.
    To(Arc<Screen>),
    /// A shared listener: the router picks.
    Lookup(&'a dyn Router),
}

impl Route<'_> {
    /// The pages the HTTP side answers itself, where the route has any.
    pub fn pages(&self) -> Option<&dyn Pages> {
        match self {
            Route::To(_) => None,
            Route::Lookup(router) => Some(router.pages()),
        }
    }

    /// The screen the connection reaches.
    pub fn screen(&self, path: Option<&str>) -> Result<Arc<Screen>, String> {
        match self {
            Route::To(screen) => Ok(screen.clone()),
            Route::Lookup(router) => router.screen(path),
        }
    }
}
