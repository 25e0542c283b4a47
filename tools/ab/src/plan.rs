//! The benchmark plan: the command line checked and resolved into what each
//! run needs (rows, CPUs, worker count, server command, load spec).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::affinity::CpuList;
use crate::cli::{BenchArgs, ExpectLen, Mode, Scheduler, Service};
use crate::files::{self, Root};
use crate::protocol::{LoadSpec, ProtoSpec};
use crate::units::group_thousands;
use crate::variant::Variant;

/// Placeholder replaced by the port in the user's server command.
pub(crate) const PORT_PLACEHOLDER: &str = "{port}";
/// Placeholder replaced by the served directory (`--server file`).
pub(crate) const ROOT_PLACEHOLDER: &str = "{root}";

/// A checked benchmark plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Rows, in run order.
    pub(crate) variants: Vec<Variant>,
    /// Rounds over the rows.
    pub(crate) reps: u32,
    /// CPUs of the server.
    pub(crate) server_cpus: CpuList,
    /// CPUs of the load generator.
    pub(crate) load_cpus: CpuList,
    /// Server workers (CORIO_WORKERS, tokio-mt workers).
    pub(crate) workers: u32,
    /// The user's server command, or `None` for the bundled server.
    pub(crate) server_cmd: Option<Vec<String>>,
    /// Protocol of the bundled server.
    pub(crate) mode: Mode,
    /// HTTP service of the bundled server.
    pub(crate) service: Service,
    /// `--server file`: the directory served (removed at the end if generated).
    pub(crate) root: Option<Arc<Root>>,
    /// How long a server may take to listen.
    pub(crate) ready_timeout: Duration,
    /// The load, with a placeholder address.
    pub(crate) load: LoadSpec,
    /// Warnings to print before the table.
    pub(crate) notes: Vec<String>,
    /// tokio's scheduler knobs for the bundled servers.
    pub(crate) scheduler: Scheduler,
}

impl Plan {
    /// Checks `args` against each other and the machine.
    ///
    /// # Errors
    /// A message naming the offending option.
    pub(crate) fn new(args: &BenchArgs) -> Result<Plan, String> {
        let usable = CpuList::usable();
        let (default_server, default_load) = usable.split();
        let server_cpus = args.server_cpus.clone().unwrap_or(default_server);
        let load_cpus = args.load_cpus.clone().unwrap_or(default_load);
        for (flag, cpus) in [("--server-cpus", &server_cpus), ("--load-cpus", &load_cpus)] {
            if !cpus.is_subset_of(&usable) {
                return Err(format!(
                    "{flag} {cpus}: this process may only use CPUs {usable}"
                ));
            }
        }
        let mut notes = Vec::new();
        if server_cpus.overlaps(&load_cpus) {
            notes.push(format!(
                "server CPUs ({server_cpus}) and load CPUs ({load_cpus}) overlap: they compete"
            ));
        }
        let server_cmd = (!args.server.is_empty()).then(|| args.server.clone());
        let variants = variants(args, server_cmd.is_some())?;
        let root = file_root(args)?;
        if let Some(cmd) = &server_cmd {
            if !cmd.iter().any(|a| a.contains(PORT_PLACEHOLDER)) {
                notes.push(format!(
                    "no {PORT_PLACEHOLDER} in the server command: it must listen on $PORT"
                ));
            }
        }
        if args.scheduler != Scheduler::default() {
            if server_cmd.is_some() {
                return Err(
                    "--event-interval, --global-queue-interval, --recv-buffers and \
                            --recv-whole-buffers are for the bundled servers; set them in \
                            your server's runtime builder"
                        .into(),
                );
            }
            notes.push(format!(
                "the bundled runtimes (the --recv knobs: the corio rows) run with {}",
                args.scheduler.serve_args().join(" ")
            ));
        }
        if args.body.is_some() && args.mode == Mode::Echo {
            return Err("--body is for --mode http; echo messages are sized with --size".into());
        }
        if args.mode == Mode::Idle {
            check_idle(args)?;
        }
        let load = load_spec(args, root.as_deref(), server_cmd.as_deref())?;
        Ok(Plan {
            variants,
            reps: args.reps,
            workers: args.workers.unwrap_or(server_cpus.len() as u32),
            server_cpus,
            load_cpus,
            server_cmd,
            mode: args.mode,
            service: args.service,
            root,
            ready_timeout: Duration::from_secs_f64(args.ready_timeout),
            load,
            notes,
            scheduler: args.scheduler,
        })
    }

    /// The load spec for a server on `port`.
    pub(crate) fn load_for(&self, port: u16) -> LoadSpec {
        LoadSpec {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            ..self.load.clone()
        }
    }

    /// Describes the load shape in a few words.
    pub(crate) fn shape(&self) -> String {
        let l = &self.load;
        let what = match &l.proto {
            ProtoSpec::Http {
                path,
                body: 0,
                expect_len: ExpectLen::Exact(n),
                ..
            } if self.service == Service::File => {
                format!(
                    "file server, HTTP/1.1 GET {path} ({} B)",
                    group_thousands(*n as f64)
                )
            }
            ProtoSpec::Http { path, body: 0, .. } => format!("HTTP/1.1 GET {path}"),
            ProtoSpec::Http { path, body, .. } => format!("HTTP/1.1 POST {path} ({body} B body)"),
            ProtoSpec::Echo { size } => format!("TCP echo, {size} B messages"),
        };
        let reps = match self.reps {
            1 => "1 rep".to_string(),
            n => format!("{n} reps interleaved"),
        };
        if self.mode == Mode::Idle {
            return format!(
                "idle keep-alive connections: {} opened, one {what} answered on each, then \
                 held idle and closed, {reps}",
                group_thousands(f64::from(l.connections))
            );
        }
        let shape = match l.rate {
            Some(r) => format!("open loop at {} req/s", group_thousands(r)),
            None => "closed loop".to_string(),
        };
        let window = match l.requests {
            Some(n) => format!("{n} responses (max {} s)", l.duration_secs),
            None => format!("{} s", l.duration_secs),
        };
        format!(
            "{what}, {shape}, {} connections, pipeline {}, {window} after {} s warm-up, {reps}",
            l.connections, l.pipeline, l.warmup_secs
        )
    }
}

fn variants(args: &BenchArgs, user_server: bool) -> Result<Vec<Variant>, String> {
    if args.variants.is_empty() {
        return Ok(Variant::defaults(user_server, args.service, args.mode));
    }
    let mut list = args.variants.clone();
    let mut seen = std::collections::HashSet::new();
    list.retain(|v| seen.insert(*v));
    if user_server {
        if let Some(v) = list.iter().find(|v| v.corio_backend().is_none()) {
            return Err(format!(
                "--variants {v}: the tokio and raw rows run the bundled server; with a \
                 server command use corio-uring and/or corio-epoll"
            ));
        }
    }
    if args.service == Service::File {
        if let Some(v) = list.iter().find(|v| v.is_raw()) {
            return Err(format!(
                "--variants {v}: {}",
                crate::serve_file::NO_RAW_FILE_SERVICE
            ));
        }
    }
    Ok(list)
}

/// Idle mode sends one request per connection and draws no chart: the
/// options that shape a load or a chart are refused, not ignored.
fn check_idle(args: &BenchArgs) -> Result<(), String> {
    let refused = [
        ("--rate", args.rate.is_some()),
        ("--requests", args.requests.is_some()),
        ("--pipeline", args.pipeline != 1),
        ("--svg", args.svg.is_some()),
    ];
    match refused.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(format!(
            "{flag} does not go with --mode idle (one request per connection, then idle; \
             the report is the table and --json)"
        )),
        None => Ok(()),
    }
}

/// The directory `--server file` serves: `--root`, or generated files.
fn file_root(args: &BenchArgs) -> Result<Option<Arc<Root>>, String> {
    match (args.service, &args.root) {
        (Service::Hello, None) => Ok(None),
        (Service::Hello, Some(_)) => Err("--root is for --server file".into()),
        (Service::File, _) if args.mode == Mode::Echo => {
            Err("--server file serves HTTP; it does not go with --mode echo".into())
        }
        (Service::File, Some(dir)) => Root::existing(dir).map(|r| Some(Arc::new(r))),
        (Service::File, None) => Root::generate().map(|r| Some(Arc::new(r))),
    }
}

/// The body length every response must have. With `--server file` and
/// `--expect-len auto` it is the size of the file `path` names, so that a
/// server answering fast with anything else cannot win.
fn expect_len(
    args: &BenchArgs,
    path: &str,
    root: Option<&Root>,
    server_cmd: Option<&[String]>,
) -> Result<ExpectLen, String> {
    let Some(root) = root.filter(|_| args.expect_len == ExpectLen::Auto) else {
        return Ok(args.expect_len);
    };
    // A server command that is not told the directory serves its own files.
    if server_cmd.is_some_and(|cmd| !cmd.iter().any(|a| a.contains(ROOT_PLACEHOLDER))) {
        return Ok(ExpectLen::Auto);
    }
    match root.file_len(path) {
        Some(len) => Ok(ExpectLen::Exact(len as usize)),
        None if args.expect_status != 200 => Ok(ExpectLen::Auto),
        None => {
            let names: Vec<String> = files::GENERATED
                .iter()
                .map(|(name, _)| format!("/{name}"))
                .collect();
            Err(format!(
                "--url {path}: no such file under {}{}",
                root.path().display(),
                match root.is_generated() {
                    true => format!(" (the generated files are {})", names.join(", ")),
                    false => String::new(),
                }
            ))
        }
    }
}

fn load_spec(
    args: &BenchArgs,
    root: Option<&Root>,
    server_cmd: Option<&[String]>,
) -> Result<LoadSpec, String> {
    let default_url = match args.service {
        Service::Hello => "/",
        Service::File => files::DEFAULT_URL,
    };
    let path = args.url.clone().unwrap_or_else(|| default_url.to_string());
    let proto = match args.mode {
        Mode::Http | Mode::Idle => ProtoSpec::Http {
            expect_len: expect_len(args, &path, root, server_cmd)?,
            require_content_length: args.service == Service::File,
            path,
            body: args.body.unwrap_or(0),
            expect_status: args.expect_status,
        },
        Mode::Echo => ProtoSpec::Echo {
            size: args.size as usize,
        },
    };
    Ok(LoadSpec {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        connections: args
            .connections
            .unwrap_or_else(|| args.mode.default_connections()),
        warmup_secs: args.warmup,
        duration_secs: args.duration,
        requests: args.requests,
        pipeline: args.pipeline,
        rate: args.rate,
        timeout_secs: args.timeout,
        proto,
        idle: args.mode == Mode::Idle,
    })
}
