//! Test-only link shims for running this crate's tests on wasm32-wasip1 with Debian's wasi-libc
//! (2022), which predates the `pthread_join` / `pthread_detach` stubs that std 1.96 links
//! against. Single-threaded WASI never starts a thread, so these are never reached; they return
//! ENOSYS if they ever are. Not compiled into the library.

use std::ffi::c_void;

const ENOSYS: i32 = 52;

#[unsafe(no_mangle)]
extern "C" fn pthread_join(_thread: usize, _result: *mut *mut c_void) -> i32 {
    ENOSYS
}

#[unsafe(no_mangle)]
extern "C" fn pthread_detach(_thread: usize) -> i32 {
    ENOSYS
}
