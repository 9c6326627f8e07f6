//! The API tests' helpers: `TestApp` (the real server on a random port with its own data
//! directory) and its request helpers live in `postagram-testkit` (core/testkit), shared
//! with the aws tests; this adds what only this crate's tests can name.

pub use postagram_testkit::*;

/// The `postagram-api` binary of this build, for [`TestApp::binary`].
pub const API_BIN: &str = env!("CARGO_BIN_EXE_postagram-api");

/// A detector that finds nothing: for tests about pictures, not labels.
struct NoLabels;

#[async_trait::async_trait]
impl postagram_labeler::Detector for NoLabels {
    async fn detect(
        &self,
        _picture: bytes::Bytes,
    ) -> Result<Vec<postagram_core::Label>, postagram_labeler::DetectError> {
        Ok(Vec::new())
    }

    fn name(&self) -> &'static str {
        "none"
    }
}

/// Runs the real labelling pipeline over every queued picture of an in-process `app`
/// (servers started with no labeler workers), as its workers would, with a detector that
/// finds nothing: the derived sizes get made and recorded, the status becomes `done`.
/// Returns how many jobs ran.
pub async fn process_pictures(app: &TestApp) -> usize {
    use postagram_labeler::pipeline::{Pipeline, PipelineConfig};
    let state = app.state.as_ref().expect("an in-process server");
    let queue = state.jobs.clone().expect("the embedded job queue");
    let pipeline = Pipeline::new(
        queue.clone(),
        state.blobs.clone(),
        std::sync::Arc::new(NoLabels),
        PipelineConfig::default(),
    );
    let mut n = 0;
    while let Some(job) = queue
        .claim(std::time::Duration::from_secs(60))
        .await
        .expect("claim")
    {
        pipeline.process(job).await;
        n += 1;
    }
    n
}
