//! The settings contract between the operator and the binaries it deploys, tested with both
//! sides together: for every example Postagram, the manifests `postagram-operator manifests`
//! prints are turned into each container's environment exactly as the kubelet would
//! (Dockerfile `ENV`, `envFrom` ConfigMaps, `env` values and `secretKeyRef`s), the image is
//! mapped to its binary through `docker/*.Dockerfile` (`ENTRYPOINT`, `CMD`), and the
//! environment is parsed by that binary's own command line (`postagram_api::config::Cli`,
//! `postagram_labeler::cli::Cli`) and checked by its own `check()`. It fails when the
//! operator sets a variable no deployed binary reads, when a binary needs one the operator
//! does not set, or when the listen port, `containerPort` and probe ports disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Mutex;

use clap::CommandFactory;
use serde_json::Value;

use postagram_core::settings::env;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What `postagram-operator manifests <example>` prints, as JSON values.
fn manifests(example: &Path) -> Vec<Value> {
    let out = Process::new(env!("CARGO_BIN_EXE_postagram-operator"))
        .arg("manifests")
        .arg(example)
        .output()
        .expect("run postagram-operator manifests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 manifests");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("manifest YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect();
    assert!(!docs.is_empty(), "no manifests for {}", example.display());
    docs
}

/// An image's binary, default arguments and `ENV`, read from `docker/<name>.Dockerfile`
/// where the image is `…/postagram-<name>:<tag>`.
struct Image {
    binary: String,
    cmd: Vec<String>,
    env: BTreeMap<String, String>,
}

fn json_list(line: &str, keyword: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix(keyword)?.trim();
    Some(
        serde_json::from_str(rest)
            .unwrap_or_else(|e| panic!("{keyword} must be exec form: {line}: {e}")),
    )
}

fn image(reference: &str) -> Image {
    let repo_name = reference
        .rsplit('/')
        .next()
        .and_then(|s| s.split(':').next())
        .unwrap_or("");
    let name = repo_name
        .strip_prefix("postagram-")
        .unwrap_or_else(|| panic!("unknown image {reference}"));
    let path = repo().join("docker").join(format!("{name}.Dockerfile"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Only the final stage is the image.
    let last = text.rsplit("\nFROM ").next().unwrap_or(&text);
    let mut img = Image {
        binary: String::new(),
        cmd: Vec::new(),
        env: BTreeMap::new(),
    };
    for line in last.lines().map(str::trim) {
        if let Some(e) = json_list(line, "ENTRYPOINT") {
            img.binary = Path::new(&e[0])
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            img.cmd = e[1..].to_vec();
        } else if let Some(c) = json_list(line, "CMD") {
            img.cmd.extend(c);
        } else if let Some(kv) = line.strip_prefix("ENV ") {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("ENV k=v expected: {line}"));
            img.env.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    assert!(
        !img.binary.is_empty(),
        "{} has no ENTRYPOINT",
        path.display()
    );
    img
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

/// Where an environment variable of a container comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Origin {
    Dockerfile,
    SharedConfigMap,
    Container,
}

/// One container as the kubelet would start it.
struct Started {
    what: String,
    binary: String,
    args: Vec<String>,
    env: BTreeMap<String, (String, Origin)>,
    container: Value,
}

fn secret_value(docs: &[Value], name: &str, key: &str) -> Option<String> {
    let s = find(docs, "Secret", name)?;
    let b64 = s["data"][key].as_str()?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 secret");
    Some(String::from_utf8(bytes).expect("utf-8 secret"))
}

fn start(docs: &[Value]) -> Vec<Started> {
    let mut out = Vec::new();
    for d in docs.iter().filter(|d| d["kind"] == "Deployment") {
        let pod = d["spec"]["template"]["spec"].clone();
        for c in pod["containers"].as_array().expect("containers") {
            let img = image(c["image"].as_str().expect("image"));
            let mut env = BTreeMap::new();
            for (k, v) in &img.env {
                env.insert(k.clone(), (v.clone(), Origin::Dockerfile));
            }
            for from in c["envFrom"].as_array().into_iter().flatten() {
                let name = from["configMapRef"]["name"]
                    .as_str()
                    .expect("only ConfigMap envFrom");
                let cm = find(docs, "ConfigMap", name)
                    .unwrap_or_else(|| panic!("envFrom {name}: no such ConfigMap"));
                for (k, v) in cm["data"].as_object().expect("data") {
                    env.insert(
                        k.clone(),
                        (
                            v.as_str().expect("string").to_string(),
                            Origin::SharedConfigMap,
                        ),
                    );
                }
            }
            for e in c["env"].as_array().into_iter().flatten() {
                let name = e["name"].as_str().expect("env name").to_string();
                let value = if let Some(v) = e["value"].as_str() {
                    v.to_string()
                } else if let Some(r) = e["valueFrom"].get("secretKeyRef") {
                    let (sname, key) = (
                        r["name"].as_str().expect("name"),
                        r["key"].as_str().expect("key"),
                    );
                    // A Secret the user provides (credentials, a JWT secret they reference)
                    // is not in the manifests: stand in a value of a realistic length.
                    secret_value(docs, sname, key)
                        .unwrap_or_else(|| format!("user-secret-{sname}-{key}-0123456789"))
                } else {
                    panic!("unsupported env source for {name}: {e}");
                };
                env.insert(name, (value, Origin::Container));
            }
            assert!(
                c.get("command").is_none(),
                "{}: command overrides are not modelled",
                c["name"]
            );
            let mut args: Vec<String> = Vec::new();
            match c["args"].as_array() {
                Some(a) => args.extend(a.iter().map(|v| v.as_str().expect("arg").to_string())),
                None => args.extend(img.cmd.clone()),
            }
            out.push(Started {
                what: format!(
                    "{}/{}",
                    d["metadata"]["name"].as_str().unwrap_or("?"),
                    c["name"].as_str().unwrap_or("?")
                ),
                binary: img.binary,
                args,
                env,
                container: c.clone(),
            });
        }
    }
    out
}

/// Every environment variable a clap command (and its subcommands) reads.
fn env_names(cmd: &clap::Command, out: &mut BTreeSet<String>) {
    for a in cmd.get_arguments() {
        if let Some(e) = a.get_env() {
            out.insert(e.to_string_lossy().into_owned());
        }
    }
    for s in cmd.get_subcommands() {
        env_names(s, out);
    }
}

/// The names `binary` reads for `args` (the subcommand it runs, plus global flags).
fn read_by(binary: &str, args: &[String]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    match binary {
        "postagram-api" => env_names(&postagram_api::config::Cli::command(), &mut names),
        "postagram-labeler" => {
            let cmd = postagram_labeler::cli::Cli::command();
            for a in cmd.get_arguments() {
                if let Some(e) = a.get_env() {
                    names.insert(e.to_string_lossy().into_owned());
                }
            }
            let sub = args.first().expect("labeler needs a subcommand");
            let sub = cmd
                .find_subcommand(sub)
                .unwrap_or_else(|| panic!("no subcommand {sub}"));
            env_names(sub, &mut names);
        }
        other => panic!("no settings parser known for binary {other}"),
    }
    names
}

/// The process environment is global: parse one container at a time.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Parses `s` with its binary's own command line and runs its own check; returns the
/// port it would listen on.
fn parse_and_check(s: &Started) -> Result<u16, String> {
    let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    for name in env::ALL {
        std::env::remove_var(name);
    }
    for (k, (v, _)) in &s.env {
        std::env::set_var(k, v);
    }
    let argv = std::iter::once(s.binary.clone()).chain(s.args.iter().cloned());
    let result = match s.binary.as_str() {
        "postagram-api" => postagram_api::config::Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())
            .and_then(|cli| {
                if cli.command.is_some() {
                    return Err(format!("runs {:?}, not the server", cli.command));
                }
                cli.config.check().map_err(|e| e.to_string())?;
                Ok(cli.config.listen.addr.port())
            }),
        "postagram-labeler" => postagram_labeler::cli::Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())
            .and_then(|cli| match cli.command {
                postagram_labeler::cli::Command::Worker(w) => {
                    w.check().map_err(|e| e.to_string())?;
                    Ok(w.listen.addr.port())
                }
                other => Err(format!("runs {other:?}, not the worker")),
            }),
        other => Err(format!("no settings parser known for binary {other}")),
    };
    for name in env::ALL {
        std::env::remove_var(name);
    }
    result
}

use clap::Parser;

fn named_port(container: &Value, port: &Value) -> Option<i64> {
    match port {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => container["ports"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == *name)
            .and_then(|p| p["containerPort"].as_i64()),
        _ => None,
    }
}

/// Everything wrong with the contract in these manifests (empty when it holds).
fn problems(docs: &[Value]) -> Vec<String> {
    let started = start(docs);
    let mut problems = Vec::new();
    if started.is_empty() {
        problems.push("no Deployment".into());
    }
    let library: BTreeSet<&str> = env::READ_BY_LIBRARIES.into_iter().collect();
    let mut read_by_any = BTreeSet::new();
    for s in &started {
        read_by_any.extend(read_by(&s.binary, &s.args));
    }
    for s in &started {
        let mine = read_by(&s.binary, &s.args);
        for (name, (_, origin)) in &s.env {
            if library.contains(name.as_str()) {
                continue;
            }
            let read = match origin {
                // One ConfigMap feeds every component: each name must be read by one of them.
                Origin::SharedConfigMap => read_by_any.contains(name),
                Origin::Container | Origin::Dockerfile => mine.contains(name),
            };
            if !read {
                problems.push(format!(
                    "{}: sets {name} ({origin:?}) but {} does not read it",
                    s.what, s.binary
                ));
            }
        }
        match parse_and_check(s) {
            Err(e) => problems.push(format!(
                "{}: {} refuses its environment: {e}",
                s.what, s.binary
            )),
            Ok(port) => {
                let declared: Vec<i64> = s.container["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["containerPort"].as_i64())
                    .collect();
                if !declared.contains(&i64::from(port)) {
                    problems.push(format!(
                        "{}: listens on {port}, containerPorts are {declared:?}",
                        s.what
                    ));
                }
                for probe in ["readinessProbe", "livenessProbe"] {
                    let get = &s.container[probe]["httpGet"];
                    match named_port(&s.container, &get["port"]) {
                        Some(p) if p == i64::from(port) => {}
                        other => problems.push(format!(
                            "{}: {probe} {} on port {other:?}, the binary listens on {port}",
                            s.what, get["path"]
                        )),
                    }
                }
            }
        }
        // Embedded data must live on a mounted volume.
        if let Some((dir, _)) = s.env.get(env::DATA_DIR) {
            let mounted = s.container["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["mountPath"].as_str().is_some_and(|p| dir.starts_with(p)));
            if !mounted {
                problems.push(format!(
                    "{}: {} is {dir}, which is on no volume",
                    s.what,
                    env::DATA_DIR
                ));
            }
        }
    }
    problems
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("operator/examples"))
        .expect("operator/examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 2,
        "expected the embedded and aws examples, found {v:?}"
    );
    v
}

#[test]
fn every_example_deploys_binaries_that_accept_their_settings() {
    for ex in examples() {
        let docs = manifests(&ex);
        let p = problems(&docs);
        assert!(p.is_empty(), "{}:\n{}", ex.display(), p.join("\n"));
    }
}

#[test]
fn the_aws_example_runs_the_worker_and_the_api() {
    let docs = manifests(&repo().join("operator/examples/aws.yaml"));
    let binaries: BTreeSet<String> = start(&docs)
        .into_iter()
        .map(|s| format!("{} {}", s.binary, s.args.join(" ")))
        .collect();
    assert!(binaries.contains("postagram-api "), "{binaries:?}");
    assert!(
        binaries.contains("postagram-labeler worker --source sqs"),
        "{binaries:?}"
    );
}

fn config_map_mut(docs: &mut [Value]) -> &mut serde_json::Map<String, Value> {
    docs.iter_mut()
        .find(|d| d["kind"] == "ConfigMap")
        .and_then(|d| d["data"].as_object_mut())
        .expect("a ConfigMap with data")
}

/// The check is not vacuous: each kind of drift is caught.
#[test]
fn drift_is_caught() {
    let aws = manifests(&repo().join("operator/examples/aws.yaml"));

    let mut missing = aws.clone();
    config_map_mut(&mut missing).remove(env::QUEUE_URL);
    let p = problems(&missing).join("\n");
    assert!(
        p.contains("postagram-labeler refuses") && p.contains(env::QUEUE_URL),
        "{p}"
    );

    let mut unread = aws.clone();
    config_map_mut(&mut unread).insert(env::SERVER.into(), "http://x".into());
    let p = problems(&unread).join("\n");
    assert!(p.contains(&format!("sets {}", env::SERVER)), "{p}");

    let mut port = aws.clone();
    config_map_mut(&mut port).insert(env::ADDR.into(), "0.0.0.0:9090".into());
    let p = problems(&port).join("\n");
    assert!(p.contains("listens on 9090"), "{p}");

    let mut secret = aws;
    for d in secret.iter_mut().filter(|d| d["kind"] == "Deployment") {
        for c in d["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .expect("containers")
        {
            c.as_object_mut().expect("container").remove("env");
        }
    }
    let p = problems(&secret).join("\n");
    assert!(
        p.contains("postagram-api refuses") && p.contains(env::JWT_SECRET),
        "{p}"
    );
}
