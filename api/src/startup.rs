//! Builds the application from its configuration and runs it until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::Router;
use postagram_core::blob::BlobStore;
use postagram_core::folder::FolderBlobStore;
use postagram_core::jobs::LabelJobQueue;
use postagram_core::settings::env;
use postagram_core::signing::{derive_key, UrlSigner};
use postagram_core::sqlite::SqliteStore;
use postagram_core::store::PostStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::auth::jwt::JwtKeys;
use crate::config::{AuthMode, Config, StoreKind};
use crate::error::error_response;
use crate::limits::body::BodyGuardLayer;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::middleware::{self, RequestLayer, REQUEST_ID};
use crate::routes;
use crate::state::{AppState, AppStateInner};

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    public_url: String,
    state: AppState,
    sqlite: Option<SqliteStore>,
    #[cfg(feature = "aws")]
    aws_calls: Option<postagram_core::aws::client::CallCounter>,
    config: Config,
}

/// The stores of one configuration.
struct Stores {
    store: Arc<dyn PostStore>,
    blobs: Arc<dyn BlobStore>,
    jobs: Option<Arc<dyn LabelJobQueue>>,
    sqlite: Option<SqliteStore>,
    #[cfg(feature = "aws")]
    aws_calls: Option<postagram_core::aws::client::CallCounter>,
}

async fn open_stores(
    config: &Config,
    signer: &UrlSigner,
    public_url: &str,
) -> anyhow::Result<Stores> {
    #[cfg(feature = "aws")]
    if config.store == StoreKind::Aws {
        let aws = crate::aws::connect(config, &crate::aws::settings(config)).await?;
        return Ok(Stores {
            store: aws.store,
            blobs: aws.blobs,
            jobs: None,
            sqlite: None,
            aws_calls: Some(aws.clients.calls),
        });
    }
    let sqlite = SqliteStore::open(&config.data_dir.join("postagram.db"))
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let blobs = FolderBlobStore::open(config.data_dir.join("pictures"), signer.clone(), public_url)
        .map_err(|e| anyhow::anyhow!("cannot open the picture folder: {e}"))?;
    Ok(Stores {
        store: Arc::new(sqlite.clone()),
        blobs: Arc::new(blobs),
        jobs: Some(Arc::new(sqlite.clone())),
        sqlite: Some(sqlite),
        #[cfg(feature = "aws")]
        aws_calls: None,
    })
}

fn cors(config: &Config) -> anyhow::Result<CorsLayer> {
    let origins = match (&config.cors_origins, config.store) {
        (Some(o), _) => o.trim().to_string(),
        (None, StoreKind::Embedded) => "*".to_string(),
        (None, StoreKind::Aws) => String::new(),
    };
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static(REQUEST_ID),
        ])
        .expose_headers([
            header::LINK,
            header::ETAG,
            header::LOCATION,
            HeaderName::from_static(REQUEST_ID),
        ])
        .max_age(Duration::from_secs(3600));
    Ok(if origins == "*" {
        layer.allow_origin(Any)
    } else if origins.is_empty() {
        layer.allow_origin(AllowOrigin::list([]))
    } else {
        let list = origins
            .split(',')
            .map(|o| {
                o.trim()
                    .parse()
                    .with_context(|| format!("bad CORS origin `{o}`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        layer.allow_origin(AllowOrigin::list(list))
    })
}

/// The full HTTP stack around `api`, the router half of [`routes::table`].
pub fn router(state: AppState, api: Router<AppState>, config: &Config) -> anyhow::Result<Router> {
    let timeout = Duration::from_secs(config.request_timeout_secs.max(1));
    let app = api
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(
            BodyGuardLayer::new(
                config.max_body_bytes,
                config.limits.connections.body_read_timeout(),
            )
            // The picture upload route, by the constant it is registered under (the
            // upload tests catch uploads limited to the JSON size).
            .route_limit(routes::objects::PATH, config.max_upload_bytes),
        )
        .layer(CompressionLayer::new())
        .layer(cors(config)?)
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(RequestLayer::new(state.metrics.clone(), timeout))
        .with_state(state);
    Ok(app)
}

impl Application {
    /// Opens the stores, binds the port and assembles the router.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        #[cfg(not(feature = "aws"))]
        if config.store == StoreKind::Aws {
            anyhow::bail!("this postagram-api was built without the `aws` feature ({}=aws); rebuild with `cargo build -p postagram-api --features aws` or use `embedded`", env::STORE);
        }
        config.check()?;
        if config.auth == AuthMode::Header {
            tracing::warn!("{}=header: the Authorization header is trusted as the username; only use this on a trusted network or behind an authenticating proxy", env::AUTH);
        }
        let listener = TcpListener::bind(config.listen.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen.addr))?;
        let port = listener.local_addr()?.port();
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{port}"))
            .trim_end_matches('/')
            .to_string();

        let secret = match &config.jwt_secret {
            // `config.check()` rejected short secrets and a missing one in aws mode.
            Some(s) => s.as_bytes().to_vec(),
            None => crate::secrets::load_or_create(&config.data_dir)?,
        };
        let signer = UrlSigner::new(&derive_key(&secret, "postagram objects"));
        let (api, openapi) = routes::table(config.max_upload_bytes).split();
        let openapi = openapi
            .to_json()
            .context("cannot serialise the OpenAPI document")?;
        let stores = open_stores(&config, &signer, &public_url).await?;
        let state = AppState::new(AppStateInner {
            store: stores.store,
            blobs: stores.blobs,
            jobs: stores.jobs,
            object_signer: stores.sqlite.is_some().then_some(signer),
            jwt: JwtKeys::new(&secret, Duration::from_secs(config.jwt_ttl_secs.max(1))),
            auth_mode: config.auth,
            limits: Arc::new(Limits::new(&config.limits)?),
            metrics: Arc::new(Metrics::new()),
            public_url: public_url.clone().into(),
            max_upload_bytes: config.max_upload_bytes,
            url_expiry: Duration::from_secs(config.url_expiry_secs.max(60)),
            list_cache: config.limits.list_cache(),
            label_wakeup: Arc::new(tokio::sync::Notify::new()),
            openapi: openapi.into(),
        });
        let router = router(state.clone(), api, &config)?;
        Ok(Application {
            listener,
            router,
            port,
            public_url,
            state,
            sqlite: stores.sqlite,
            #[cfg(feature = "aws")]
            aws_calls: stores.aws_calls,
            config,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL clients use.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Calls made to AWS so far (aws store only), for the benchmark.
    #[cfg(feature = "aws")]
    pub fn aws_calls(&self) -> Option<postagram_core::aws::client::CallCounter> {
        self.aws_calls.clone()
    }

    /// The shared state (tests inspect stores through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and stops the
    /// labeler workers.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut workers = Vec::new();
        if let Some(sqlite) = &self.sqlite {
            let recovered = sqlite
                .recover_interrupted_jobs()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if recovered > 0 {
                tracing::info!(
                    jobs = recovered,
                    "re-queued label jobs interrupted by the last shutdown"
                );
            }
            workers = crate::labeling::spawn_workers(&self.config, &self.state, stop_rx.clone())?;
        }
        // Account deletions a crash or an outage interrupted, in the background (a big
        // account must not delay the start); replicas sweeping at once is harmless.
        let (store, blobs) = (self.state.store.clone(), self.state.blobs.clone());
        tokio::spawn(async move {
            match postagram_core::accounts::sweep(&*store, &*blobs).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(accounts = n, "finished interrupted account deletions"),
                Err(e) => tracing::warn!(error = %e, "cannot list interrupted account deletions"),
            }
        });
        tracing::info!(addr = %self.listener.local_addr()?, url = %self.public_url, "postagram-api listening");
        crate::serve::serve(
            self.listener,
            self.router,
            &self.config.limits.connections,
            self.state.metrics.clone(),
            shutdown,
        )
        .await;
        let _ = stop_tx.send(true);
        for w in workers {
            let _ = w.await;
        }
        tracing::info!("postagram-api stopped");
        Ok(())
    }
}
