//! A small `macro_rules!` expander, so impls that corio generates with its own macros
//! (`impl_fd!(TcpStream, UnixStream)`-style) are seen. Supports literal tokens, groups,
//! `$name:fragment` (ident, ty, path, expr, tt, lifetime, literal, vis, item, block, stmt,
//! pat, meta) and `$( .. ) sep? *|+|?` repetitions; `$crate` becomes `crate`. No
//! backtracking beyond "a repetition stops where its body no longer matches".

use std::collections::HashMap;

use proc_macro2::{Delimiter, Group, Ident, Punct, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};

#[derive(Debug, Clone)]
enum Matcher {
    Tok(String),
    Group(Delimiter, Vec<Matcher>),
    Frag(String, String),
    Rep(Vec<Matcher>, Option<String>, char),
}

#[derive(Debug, Clone)]
enum Binding {
    One(TokenStream),
    Many(Vec<Binding>),
}

type Env = HashMap<String, Binding>;

/// One `macro_rules!` definition: its arms, in order.
#[derive(Debug, Clone)]
pub(crate) struct MacroRules {
    arms: Vec<(Vec<Matcher>, TokenStream)>,
}

impl MacroRules {
    /// Parses the body of `macro_rules! name { .. }`.
    pub(crate) fn parse(ts: TokenStream) -> Option<Self> {
        let tokens: Vec<TokenTree> = ts.into_iter().collect();
        let mut arms = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let (Some(TokenTree::Group(m)), Some(TokenTree::Punct(eq)), Some(TokenTree::Punct(gt))) =
                (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
            else {
                break;
            };
            let Some(TokenTree::Group(body)) = tokens.get(i + 3) else {
                break;
            };
            if eq.as_char() != '=' || gt.as_char() != '>' {
                return None;
            }
            arms.push((parse_matchers(m.stream()), body.stream()));
            i += 4;
            if matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
                i += 1;
            }
        }
        (!arms.is_empty()).then_some(MacroRules { arms })
    }

    /// Expands one invocation with the first arm that matches.
    pub(crate) fn expand(&self, input: TokenStream) -> Result<TokenStream, String> {
        for (matchers, body) in &self.arms {
            let parser = |s: ParseStream<'_>| {
                let mut env = Env::new();
                match_seq(s, matchers, &mut env)?;
                if !s.is_empty() {
                    return Err(s.error("unexpected tokens after the pattern"));
                }
                Ok(env)
            };
            if let Ok(env) = parser.parse2(input.clone()) {
                return transcribe(body.clone(), &env);
            }
        }
        Err("no arm matches".to_string())
    }
}

fn parse_matchers(ts: TokenStream) -> Vec<Matcher> {
    let tokens: Vec<TokenTree> = ts.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match tokens.get(i + 1) {
                Some(TokenTree::Ident(name)) => {
                    if let (Some(TokenTree::Punct(colon)), Some(TokenTree::Ident(kind))) =
                        (tokens.get(i + 2), tokens.get(i + 3))
                    {
                        if colon.as_char() == ':' {
                            out.push(Matcher::Frag(name.to_string(), kind.to_string()));
                            i += 4;
                            continue;
                        }
                    }
                    out.push(Matcher::Tok(format!("${name}")));
                    i += 2;
                }
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                    let inner = parse_matchers(g.stream());
                    let (sep, op, used) = rep_suffix(&tokens[i + 2..]);
                    out.push(Matcher::Rep(inner, sep.map(|t| t.to_string()), op));
                    i += 2 + used;
                }
                _ => {
                    out.push(Matcher::Tok("$".to_string()));
                    i += 1;
                }
            },
            TokenTree::Group(g) => {
                out.push(Matcher::Group(g.delimiter(), parse_matchers(g.stream())));
                i += 1;
            }
            tt => {
                out.push(Matcher::Tok(tt.to_string()));
                i += 1;
            }
        }
    }
    out
}

/// After `$( .. )`: an optional separator token, then `*`, `+` or `?`.
fn rep_suffix(rest: &[TokenTree]) -> (Option<TokenTree>, char, usize) {
    let op_of = |tt: Option<&TokenTree>| match tt {
        Some(TokenTree::Punct(p)) if matches!(p.as_char(), '*' | '+' | '?') => Some(p.as_char()),
        _ => None,
    };
    if let Some(op) = op_of(rest.first()) {
        return (None, op, 1);
    }
    match op_of(rest.get(1)) {
        Some(op) => (rest.first().cloned(), op, 2),
        None => (None, '*', 0),
    }
}

fn vars_of(matchers: &[Matcher], out: &mut Vec<String>) {
    for m in matchers {
        match m {
            Matcher::Frag(name, _) => out.push(name.clone()),
            Matcher::Group(_, inner) | Matcher::Rep(inner, _, _) => vars_of(inner, out),
            Matcher::Tok(_) => {}
        }
    }
}

fn match_seq(input: ParseStream<'_>, matchers: &[Matcher], env: &mut Env) -> syn::Result<()> {
    for m in matchers {
        match m {
            Matcher::Tok(want) => {
                let tt: TokenTree = input.parse()?;
                if tt.to_string() != *want {
                    return Err(syn::Error::new(tt.span(), "token mismatch"));
                }
            }
            Matcher::Group(delim, inner) => {
                let tt: TokenTree = input.parse()?;
                let TokenTree::Group(g) = tt else {
                    return Err(input.error("expected a group"));
                };
                if g.delimiter() != *delim {
                    return Err(input.error("wrong delimiter"));
                }
                let parser = |s: ParseStream<'_>| {
                    match_seq(s, inner, env)?;
                    if s.is_empty() {
                        Ok(())
                    } else {
                        Err(s.error("unexpected tokens in group"))
                    }
                };
                parser.parse2(g.stream())?;
            }
            Matcher::Frag(name, kind) => {
                let ts = fragment(input, kind)?;
                env.insert(name.clone(), Binding::One(ts));
            }
            Matcher::Rep(inner, sep, op) => {
                let mut iterations: Vec<Env> = Vec::new();
                while !input.is_empty() {
                    let fork = input.fork();
                    let mut one = Env::new();
                    if match_seq(&fork, inner, &mut one).is_err() {
                        break;
                    }
                    let advanced = fork.cursor() != input.cursor();
                    input.advance_to(&fork);
                    iterations.push(one);
                    if *op == '?' || !advanced {
                        break;
                    }
                    if let Some(sep) = sep {
                        let fork = input.fork();
                        match fork.parse::<TokenTree>() {
                            Ok(tt) if tt.to_string() == *sep => input.advance_to(&fork),
                            _ => break,
                        }
                    }
                }
                if *op == '+' && iterations.is_empty() {
                    return Err(input.error("repetition needs one match"));
                }
                let mut names = Vec::new();
                vars_of(inner, &mut names);
                for name in names {
                    let each = iterations
                        .iter()
                        .map(|e| e.get(&name).cloned().unwrap_or(Binding::Many(Vec::new())))
                        .collect();
                    env.insert(name, Binding::Many(each));
                }
            }
        }
    }
    Ok(())
}

fn fragment(input: ParseStream<'_>, kind: &str) -> syn::Result<TokenStream> {
    Ok(match kind {
        "ident" => Ident::parse_any(input)?.into_token_stream(),
        "lifetime" => input.parse::<syn::Lifetime>()?.into_token_stream(),
        "literal" => input.parse::<syn::Lit>()?.into_token_stream(),
        "ty" => input.parse::<syn::Type>()?.into_token_stream(),
        "path" => input.parse::<syn::Path>()?.into_token_stream(),
        "expr" => input.parse::<syn::Expr>()?.into_token_stream(),
        "item" => input.parse::<syn::Item>()?.into_token_stream(),
        "vis" => input.parse::<syn::Visibility>()?.into_token_stream(),
        "block" => input.parse::<syn::Block>()?.into_token_stream(),
        "stmt" => input.parse::<syn::Stmt>()?.into_token_stream(),
        "pat" | "pat_param" => syn::Pat::parse_multi(input)?.into_token_stream(),
        "meta" => input.parse::<syn::Meta>()?.into_token_stream(),
        _ => input.parse::<TokenTree>()?.into_token_stream(),
    })
}

fn transcribe(body: TokenStream, env: &Env) -> Result<TokenStream, String> {
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match tokens.get(i + 1) {
                Some(TokenTree::Ident(name)) => {
                    let key = name.to_string();
                    match env.get(&key) {
                        _ if key == "crate" => {
                            out.extend([TokenTree::Ident(Ident::new("crate", name.span()))]);
                        }
                        Some(Binding::One(ts)) => out.extend(ts.clone()),
                        Some(Binding::Many(_)) => {
                            return Err(format!("${key} is still repeating here"));
                        }
                        None => out.extend([tokens[i].clone(), tokens[i + 1].clone()]),
                    }
                    i += 2;
                }
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
                    let (sep, _, used) = rep_suffix(&tokens[i + 2..]);
                    let mut names = Vec::new();
                    dollar_idents(g.stream(), &mut names);
                    let repeating: Vec<(&String, &Vec<Binding>)> = names
                        .iter()
                        .filter_map(|n| match env.get(n) {
                            Some(Binding::Many(v)) => Some((n, v)),
                            _ => None,
                        })
                        .collect();
                    let count = repeating.iter().map(|(_, v)| v.len()).min().unwrap_or(0);
                    for k in 0..count {
                        let mut inner = env.clone();
                        for (name, values) in &repeating {
                            inner.insert((*name).clone(), values[k].clone());
                        }
                        out.extend(transcribe(g.stream(), &inner)?);
                        if let (Some(sep), true) = (&sep, k + 1 < count) {
                            out.extend([sep.clone()]);
                        }
                    }
                    i += 2 + used;
                }
                _ => {
                    out.extend([TokenTree::Punct(Punct::new('$', p.spacing()))]);
                    i += 1;
                }
            },
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), transcribe(g.stream(), env)?);
                group.set_span(g.span());
                out.extend([TokenTree::Group(group)]);
                i += 1;
            }
            tt => {
                out.extend([tt.clone()]);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn dollar_idents(ts: TokenStream, out: &mut Vec<String>) {
    let tokens: Vec<TokenTree> = ts.into_iter().collect();
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                if let Some(TokenTree::Ident(id)) = tokens.get(i + 1) {
                    out.push(id.to_string());
                }
            }
            TokenTree::Group(g) => dollar_idents(g.stream(), out),
            _ => {}
        }
    }
}
