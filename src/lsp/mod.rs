//! `waves lsp`: a language server over stdio for editors. The main thread runs the loop
//! below (documents and requests); the checker thread compiles documents for diagnostics;
//! the protocol's reader and writer threads only move messages.

mod check;
mod goto;
mod text;
mod vocab;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
};
use lsp_types::request::{
    Completion, GotoDefinition, HoverRequest, Request as _, SignatureHelpRequest,
};
use lsp_types::{
    CompletionOptions, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, GotoDefinitionResponse, HoverProviderCapability, OneOf,
    ServerCapabilities, SignatureHelpOptions, TextDocumentPositionParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;

/// What the server offers; the client sends whole documents on each change.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), ":".into()]),
            ..Default::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            retrigger_characters: None,
            work_done_progress_options: Default::default(),
        }),
        definition_provider: Some(OneOf::Left(true)),
        ..Default::default()
    }
}

struct Doc {
    text: String,
    version: i32,
    /// The file it is saved as; an unsaved buffer is checked as `untitled.rhai` in the
    /// current folder.
    path: PathBuf,
}

#[derive(Default)]
struct Server {
    docs: HashMap<Uri, Doc>,
    /// Documents changed since their diagnostics were last published.
    stale: BTreeSet<Uri>,
    shutting_down: bool,
}

/// Serves one editor on stdin/stdout until it sends `exit`.
pub fn run_stdio() -> Result<(), String> {
    let (conn, io) = Connection::stdio();
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    conn.initialize(caps)
        .map_err(|e| format!("error: lsp: initialize: {e}"))?;
    serve(&conn)?;
    // The writer thread ends, and flushes, once every sender is gone. (After an error the
    // reader may still wait on stdin, so only a clean end joins.)
    drop(conn);
    io.join().map_err(|e| format!("error: lsp: {e}"))
}

fn serve(conn: &Connection) -> Result<(), String> {
    let mut server = Server::default();
    let out = conn.sender.clone();
    let checker = check::Checker::start(move |n| {
        let _ = out.send(n.into());
    })
    .map_err(|e| format!("error: lsp: cannot start the checker thread: {e}"))?;
    let mut queued: VecDeque<Message> = VecDeque::new();
    loop {
        let msg = match queued.pop_front() {
            Some(m) => m,
            // The editor closed the pipe without `exit`: nothing left to serve.
            None => match conn.receiver.recv() {
                Ok(m) => m,
                Err(_) => return Ok(()),
            },
        };
        match msg {
            Message::Request(req) => {
                let resp = server.request(req);
                send(conn, resp.into())?;
            }
            Message::Notification(n) if n.method == "exit" => {
                return if server.shutting_down {
                    Ok(())
                } else {
                    Err("error: lsp: exit without shutdown".into())
                };
            }
            Message::Notification(n) => server.notification(n),
            Message::Response(_) => {}
        }
        // Compile only once the editor has nothing more queued: while someone types,
        // only the latest text is checked.
        while let Ok(m) = conn.receiver.try_recv() {
            queued.push_back(m);
        }
        if queued.is_empty() {
            for job in server.stale_docs() {
                checker.check(job);
            }
        }
    }
}

fn send(conn: &Connection, msg: Message) -> Result<(), String> {
    conn.sender
        .send(msg)
        .map_err(|_| "error: lsp: the editor closed the connection".to_string())
}

impl Server {
    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) {
                    let d = p.text_document;
                    self.stale.insert(d.uri.clone());
                    let path = text::path_of_uri(&d.uri).unwrap_or_else(|| "untitled.rhai".into());
                    self.docs.insert(
                        d.uri,
                        Doc {
                            text: d.text,
                            version: d.version,
                            path,
                        },
                    );
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params)
                    && let Some(doc) = self.docs.get_mut(&p.text_document.uri)
                    // Full sync: the last change holds the whole text.
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    doc.text = change.text;
                    doc.version = p.text_document.version;
                    self.stale.insert(p.text_document.uri);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params) {
                    // Its diagnostics go with it (published empty).
                    self.docs.remove(&p.text_document.uri);
                    self.stale.insert(p.text_document.uri);
                }
            }
            _ => {}
        }
    }

    /// Every document changed since it was last checked, or closed.
    fn stale_docs(&mut self) -> Vec<check::Job> {
        std::mem::take(&mut self.stale)
            .into_iter()
            .map(|uri| {
                let doc = self.docs.get(&uri);
                let job = doc.map(|d| (d.text.clone(), d.version, d.path.clone()));
                (uri, job)
            })
            .collect()
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        if req.method == "shutdown" {
            self.shutting_down = true;
            return Response::new_ok(id, serde_json::Value::Null);
        }
        let handled = [
            Completion::METHOD,
            HoverRequest::METHOD,
            SignatureHelpRequest::METHOD,
            GotoDefinition::METHOD,
        ];
        if !handled.contains(&req.method.as_str()) {
            let msg = format!("waves lsp does not handle {}", req.method);
            return Response::new_err(id, ErrorCode::MethodNotFound as i32, msg);
        }
        // Each of these requests is a position in a document (and a little more).
        let at: TextDocumentPositionParams = match serde_json::from_value(req.params) {
            Ok(p) => p,
            Err(e) => {
                return Response::new_err(id, ErrorCode::InvalidParams as i32, e.to_string());
            }
        };
        let Some(doc) = self.docs.get(&at.text_document.uri) else {
            // A document the editor never opened: nothing to offer.
            return Response::new_ok(id, serde_json::Value::Null);
        };
        let (text, path, pos) = (doc.text.as_str(), doc.path.as_path(), at.position);
        let result = match req.method.as_str() {
            Completion::METHOD => serde_json::to_value(vocab::completion(text, path, pos)),
            HoverRequest::METHOD => serde_json::to_value(vocab::hover(text, path, pos)),
            SignatureHelpRequest::METHOD => {
                serde_json::to_value(vocab::signature_help(text, path, pos))
            }
            _ => serde_json::to_value(
                goto::definition(text, path, pos).map(GotoDefinitionResponse::Scalar),
            ),
        };
        match result {
            Ok(v) => Response::new_ok(id, v),
            Err(e) => Response::new_err(id, ErrorCode::InternalError as i32, e.to_string()),
        }
    }
}
