//! Request bodies a route leaves unread are read to their end in the background (bounded), so
//! the connection is not closed with bytes still unread. Closing a socket that holds unread
//! input makes the kernel send a reset, and a reset can destroy the tail of a response already
//! written: a `POST …/export` sent with a `{}` body lost the end of its archive on about one
//! request in twenty on a reused connection (hyper#3944 describes the same).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

/// At most this much of an unread body is read and thrown away; past it (a client sending
/// more than any route without a body could want) the connection is closed as before.
const DRAIN_BYTES: usize = 1 << 20;
/// And for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Wraps every request's body so that, dropped unread, it is drained (see the module docs).
pub(crate) async fn drain_unread_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    next.run(req.map(|body| Body::new(DrainOnDrop(Some(body)))))
        .await
}

/// A body that drains what is left of itself when dropped.
struct DrainOnDrop(Option<Body>);

impl http_body::Body for DrainOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.0.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(body) = self.0.take() else { return };
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            use http_body_util::BodyExt;
            // Each piece is dropped as it comes: a drain holds no more than one in memory.
            let mut body = body;
            let drain = async {
                let mut seen = 0usize;
                while seen <= DRAIN_BYTES {
                    match body.frame().await {
                        Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
                        Some(Err(_)) | None => break,
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_dropped_unread_is_read_to_its_end() {
        // A client sending a body in pieces; the channel holds one piece, so a second send
        // only goes through when someone reads.
        let (sender, mut pieces) = tokio::sync::mpsc::channel::<Result<Bytes, axum::Error>>(1);
        let client = futures::stream::poll_fn(move |cx| pieces.poll_recv(cx));
        drop(DrainOnDrop(Some(Body::from_stream(client))));
        for _ in 0..4 {
            tokio::time::timeout(
                Duration::from_secs(5),
                sender.send(Ok(Bytes::from_static(b"unread"))),
            )
            .await
            .expect("the drain reads what the route did not")
            .expect("the body is still open");
        }
    }
}
