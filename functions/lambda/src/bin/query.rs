//! The `query` function: the query route group of shared/http behind API Gateway or a Function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    snapkb_lambda::serve_routes(snapkb_http::Group::Query).await
}
