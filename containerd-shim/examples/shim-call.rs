//! A test client for the engines suite: one task API call straight to a shim's socket,
//! the way containerd makes it, for what `ctr` cannot send (Update) or never lets reach a
//! shim (an unknown task id). Prints `ok` or the ttrpc status code and message; exits 0
//! or 1.
//!
//! `shim-call SOCKET state ID` | `shim-call SOCKET update ID < LinuxResources.json`

use std::io::Read;

use containerd_shim::api::{StateRequest, UpdateTaskRequest};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::shim_sync::{Client, TaskClient};
use containerd_shim::protos::ttrpc;
use containerd_shim::Context;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [sock, call, id] = a.as_slice() else {
        eprintln!("usage: shim-call SOCKET state|update ID");
        std::process::exit(2);
    };
    let client = match Client::connect(&format!("unix://{}", sock.trim_start_matches("unix://"))) {
        Ok(c) => TaskClient::new(c),
        Err(e) => {
            eprintln!("connecting to {sock}: {e}");
            std::process::exit(2);
        }
    };
    let ctx = Context::default();
    let r = match call.as_str() {
        "state" => {
            let req = StateRequest {
                id: id.clone(),
                ..Default::default()
            };
            client.state(ctx, &req).map(|s| format!("{:?}", s.status))
        }
        "update" => {
            let mut json = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut json);
            let mut res = Any::new();
            res.type_url =
                "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources".into();
            res.value = json;
            let req = UpdateTaskRequest {
                id: id.clone(),
                resources: Some(res).into(),
                ..Default::default()
            };
            client.update(ctx, &req).map(|_| "ok".to_string())
        }
        other => {
            eprintln!("unknown call {other}");
            std::process::exit(2);
        }
    };
    match r {
        Ok(s) => println!("{s}"),
        Err(ttrpc::Error::RpcStatus(s)) => {
            println!("{:?}: {}", s.code(), s.message());
            std::process::exit(1);
        }
        Err(e) => {
            println!("error: {e}");
            std::process::exit(1);
        }
    }
}
