//! Handler futures that axum can hold on every target. axum wants `Send` futures and state;
//! on native targets the engine's futures are `Send` and `send` is the identity, checked by
//! the compiler. On WebAssembly hosts (Workers, Spin) there is one thread, the storage ports'
//! futures are `?Send` (JS promises, host calls), and `send` wraps them in a `SendWrapper`,
//! which would panic rather than misbehave if a future ever moved to another thread.

#[cfg(not(target_family = "wasm"))]
pub(crate) fn send<F: Future + Send>(future: F) -> F {
    future
}

#[cfg(target_family = "wasm")]
pub(crate) fn send<F: Future>(future: F) -> impl Future<Output = F::Output> + Send {
    send_wrapper::SendWrapper::new(future)
}

/// `Send` where futures must be (native targets), nothing on WebAssembly (see [`send`]).
#[cfg(not(target_family = "wasm"))]
pub(crate) trait MaybeSend: Send {}
#[cfg(not(target_family = "wasm"))]
impl<T: Send> MaybeSend for T {}
#[cfg(target_family = "wasm")]
pub(crate) trait MaybeSend {}
#[cfg(target_family = "wasm")]
impl<T> MaybeSend for T {}
