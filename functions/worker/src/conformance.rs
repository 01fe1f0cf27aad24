//! `POST /__conformance/{check}` (only in builds with the `conformance` feature): runs one of
//! the storage conformance checks against the bound R2 bucket and D1 database, so CI tests the
//! adapters inside workerd. A failed check panics, which fails the request.

use axum::{Router, extract::Path, http::StatusCode, routing::post};
use snapkb_store::conformance as c;
use worker::Env;

use snapkb_cloudflare::{D1Meta, R2Objects};

use crate::{BUCKET_BINDING, DATABASE_BINDING};

async fn run(env: Env, check: &str) -> Result<(), String> {
    let objects = R2Objects::new(env.bucket(BUCKET_BINDING).map_err(|e| e.to_string())?);
    let meta = D1Meta::new(env.d1(DATABASE_BINDING).map_err(|e| e.to_string())?);
    match check {
        "objects_round_trip" => c::objects_round_trip(&objects).await,
        "objects_put_if_absent_refuses_an_existing_object" => {
            c::objects_put_if_absent_refuses_an_existing_object(&objects).await
        }
        "objects_put_if_absent_has_exactly_one_winner" => {
            c::objects_put_if_absent_has_exactly_one_winner(&objects).await
        }
        "objects_ranged_reads" => c::objects_ranged_reads(&objects).await,
        "objects_list_by_prefix_with_pagination" => {
            c::objects_list_by_prefix_with_pagination(&objects).await
        }
        "items_round_trip_with_conditions" => c::items_round_trip_with_conditions(&meta).await,
        "items_conditional_put_races_have_exactly_one_winner" => {
            c::items_conditional_put_races_have_exactly_one_winner(&meta).await
        }
        "transactions_are_all_or_nothing" => c::transactions_are_all_or_nothing(&meta).await,
        "concurrent_transactions_commit_each_version_once" => {
            c::concurrent_transactions_commit_each_version_once(&meta).await
        }
        "counters_add_atomically" => c::counters_add_atomically(&meta).await,
        "queries_by_prefix_with_pagination" => c::queries_by_prefix_with_pagination(&meta).await,
        "expired_items_go_and_live_ones_stay" => {
            c::expired_items_go_and_live_ones_stay(&meta).await
        }
        other => return Err(format!("no check `{other}`")),
    }
    Ok(())
}

pub(crate) fn router(env: Env) -> Router {
    Router::new().route(
        "/__conformance/{check}",
        post(move |Path(check): Path<String>| {
            let env = env.clone();
            worker::send::SendFuture::new(async move {
                match run(env, &check).await {
                    Ok(()) => (StatusCode::OK, "ok".to_string()),
                    Err(e) => (StatusCode::NOT_FOUND, e),
                }
            })
        }),
    )
}
