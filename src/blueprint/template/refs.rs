//! Lists the context fields a template reads, for lint (`.Phases.X…`,
//! `.ArtifactsIn.X…`, `.Deployment…`).

use super::ast::*;

/// A field chain read from the template's root context (`.A.B` outside any
/// `with`/`range`, or `$.A.B` anywhere); `offset` is its byte position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    pub path: Vec<String>,
    pub offset: usize,
}

pub fn field_refs(ast: &Ast) -> Vec<FieldRef> {
    let mut refs = Vec::new();
    walk_nodes(&ast.nodes, true, &mut refs);
    refs
}

fn walk_nodes(nodes: &[Node], dot_is_root: bool, refs: &mut Vec<FieldRef>) {
    for node in nodes {
        match node {
            Node::Text(_) | Node::Break | Node::Continue => {}
            Node::Output(p) => walk_pipe(p, dot_is_root, refs),
            Node::If(c) | Node::With(c) => {
                let is_with = matches!(node, Node::With(_));
                for (p, body) in &c.branches {
                    walk_pipe(p, dot_is_root, refs);
                    walk_nodes(body, dot_is_root && !is_with, refs);
                }
                if let Some(o) = &c.otherwise {
                    walk_nodes(o, dot_is_root, refs);
                }
            }
            Node::Range {
                pipe,
                body,
                otherwise,
            } => {
                walk_pipe(pipe, dot_is_root, refs);
                walk_nodes(body, false, refs);
                if let Some(o) = otherwise {
                    walk_nodes(o, dot_is_root, refs);
                }
            }
        }
    }
}

fn walk_pipe(p: &Pipeline, dot_is_root: bool, refs: &mut Vec<FieldRef>) {
    for cmd in &p.cmds {
        for term in &cmd.args {
            walk_term(term, dot_is_root, refs);
        }
    }
}

fn walk_term(term: &Term, dot_is_root: bool, refs: &mut Vec<FieldRef>) {
    match &term.kind {
        TermKind::Field { receiver, names } => {
            let from_root = match &receiver.kind {
                TermKind::Dot => dot_is_root,
                TermKind::Var(v) => v == "$",
                _ => false,
            };
            if from_root {
                refs.push(FieldRef {
                    path: names.clone(),
                    offset: term.offset,
                });
            }
            walk_term(receiver, dot_is_root, refs);
        }
        TermKind::Paren(p) => walk_pipe(p, dot_is_root, refs),
        _ => {}
    }
}
