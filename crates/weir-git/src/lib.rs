//! Git for Weir's GitRepository source: fetch a reference into a cache, check its tree out,
//! and name the result as Flux does (`main@sha1:<commit>`).
//!
//! Built on libgit2 (`git2`): HTTPS with basic auth, bearer tokens and a per-repository CA;
//! SSH in-process with a key from memory, checked against `known_hosts` from the Secret.
//! Fetches are shallow where the reference allows, into a bare cache repository kept between
//! reconciles, so an unchanged remote costs one round trip and no download.
//!
//! Calls block; run them on a blocking thread.

mod auth;
mod push;
mod semver;
mod transport;

use std::fs;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{FetchOptions, Oid, Repository};

pub use auth::{Auth, Credentials};
pub use push::{Change, Files, Pushed, commit_and_push, read_files};

/// Why a Git operation failed. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Secret's data does not make valid credentials.
    #[error("invalid Git credentials: {reason}")]
    Credentials {
        /// What is wrong.
        reason: String,
    },
    /// The server refused the credentials.
    #[error("authentication to {url} failed: {message}")]
    Authentication {
        /// The repository.
        url: String,
        /// The transport's message.
        message: String,
    },
    /// The reference does not exist on the remote.
    #[error("{reference} not found in {url}")]
    NotFound {
        /// The repository.
        url: String,
        /// What was asked for.
        reference: String,
    },
    /// The remote repository has no commits.
    #[error("git repository {url} is empty")]
    Empty {
        /// The repository.
        url: String,
    },
    /// Anything else libgit2 reports (unreachable server, TLS, protocol).
    #[error("{operation} {url}: {message}")]
    Git {
        /// What was being done, such as `fetching`.
        operation: &'static str,
        /// The repository.
        url: String,
        /// libgit2's message.
        message: String,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `spec.ref.semver` is not a valid range.
    #[error("invalid semver range '{range}': {reason}")]
    Semver {
        /// The range.
        range: String,
        /// Why.
        reason: String,
    },
}

/// Which revision to check out, as Flux's `spec.ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reference {
    /// The head of a branch.
    Branch(String),
    /// A tag.
    Tag(String),
    /// The highest tag matching a semver range.
    Semver(String),
    /// A full reference name, such as `refs/pull/1/head`.
    Name(String),
    /// A commit, optionally on a branch.
    Commit {
        /// The 40-hex SHA-1.
        sha: String,
        /// The branch it is on.
        branch: Option<String>,
    },
}

impl Reference {
    /// The reference Flux would use for a `spec.ref` with these fields, by Flux's precedence:
    /// commit, name, tag, semver, branch; `master` when none is set.
    pub fn from_fields(
        branch: Option<&str>,
        tag: Option<&str>,
        semver: Option<&str>,
        name: Option<&str>,
        commit: Option<&str>,
    ) -> Self {
        let some = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(sha) = some(commit) {
            return Reference::Commit {
                sha,
                branch: some(branch),
            };
        }
        if let Some(name) = some(name) {
            return Reference::Name(name);
        }
        if let Some(tag) = some(tag) {
            return Reference::Tag(tag);
        }
        if let Some(range) = some(semver) {
            return Reference::Semver(range);
        }
        Reference::Branch(some(branch).unwrap_or_else(|| "master".to_owned()))
    }

    /// How the reference reads in errors: `branch 'main'`.
    fn describe(&self) -> String {
        match self {
            Reference::Branch(b) => format!("branch '{b}'"),
            Reference::Tag(t) => format!("tag '{t}'"),
            Reference::Semver(r) => format!("semver range '{r}'"),
            Reference::Name(n) => format!("reference '{n}'"),
            Reference::Commit { sha, .. } => format!("commit '{sha}'"),
        }
    }
}

/// A checked-out commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The commit's 40-hex SHA-1.
    pub commit: String,
    /// The revision as Flux writes it: `main@sha1:<commit>`, `v1.0@sha1:<commit>`,
    /// `refs/pull/1/head@sha1:<commit>`, or `sha1:<commit>` for a bare commit.
    pub revision: String,
    /// The commit message's first line.
    pub summary: String,
}

/// Makes a libgit2 error into [`Error::Git`] for `operation` on `url`.
fn git_error<'a>(operation: &'static str, url: &'a str) -> impl Fn(git2::Error) -> Error + 'a {
    move |err| Error::Git {
        operation,
        url: url.to_owned(),
        message: err.message().to_owned(),
    }
}

/// The local ref a fetch writes to.
const FETCHED: &str = "refs/weir/fetched";

/// Fetches `reference` from `url` into the bare cache repository `cache` (created if needed)
/// and checks its tree out into `worktree` (emptied first): [`fetch`] then [`export`].
pub fn checkout(
    url: &str,
    reference: &Reference,
    credentials: &Credentials,
    cache: &Path,
    worktree: &Path,
) -> Result<Checkout, Error> {
    let fetched = fetch(url, reference, credentials, cache)?;
    export(cache, &fetched.commit, worktree)?;
    Ok(fetched)
}

/// Fetches `reference` from `url` into the bare cache repository `cache` (created if needed),
/// without writing any working tree. Shallow (depth 1) except for a commit, whose history must
/// be searched. When the cache already holds the remote's commit, nothing is downloaded.
pub fn fetch(
    url: &str,
    reference: &Reference,
    credentials: &Credentials,
    cache: &Path,
) -> Result<Checkout, Error> {
    let git = |operation| git_error(operation, url);
    let repo = match Repository::open_bare(cache) {
        Ok(repo) => repo,
        Err(_) => {
            fs::create_dir_all(cache).map_err(|source| Error::Io {
                path: cache.display().to_string(),
                source,
            })?;
            Repository::init_bare(cache).map_err(git("creating the cache for"))?
        }
    };
    let (refspec, shallow) = match reference {
        Reference::Branch(b) => (format!("+refs/heads/{b}:{FETCHED}"), true),
        Reference::Tag(t) => (format!("+refs/tags/{t}:{FETCHED}"), true),
        Reference::Name(n) => (format!("+{n}:{FETCHED}"), true),
        Reference::Commit {
            branch: Some(b), ..
        } => (format!("+refs/heads/{b}:{FETCHED}"), false),
        Reference::Commit { branch: None, .. } => {
            ("+refs/heads/*:refs/weir/heads/*".to_owned(), false)
        }
        // Every tag's commit, shallow; the highest matching tag is chosen below.
        Reference::Semver(_) => ("+refs/tags/*:refs/weir/tags/*".to_owned(), true),
    };
    // A ref left from an earlier fetch must not pass for this one's result.
    if let Ok(mut old) = repo.find_reference(FETCHED) {
        let _ = old.delete();
    }
    let mut remote = repo.remote_anonymous(url).map_err(git("reading the URL"))?;
    let session = transport::Session::new(url, credentials);
    let mut options = FetchOptions::new();
    options.remote_callbacks(session.callbacks());
    if shallow {
        options.depth(1);
    }
    let headers = session.headers();
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    options.custom_headers(&header_refs);
    options.download_tags(git2::AutotagOption::None);
    remote
        .fetch(&[refspec.as_str()], Some(&mut options), None)
        .map_err(|err| session.classify(err, reference))?;

    let mut chosen_tag = None;
    let oid = match reference {
        Reference::Commit { sha, .. } => {
            Oid::from_str(sha).map_err(git("reading the commit of"))?
        }
        Reference::Semver(range) => {
            let tags = repo
                .references_glob("refs/weir/tags/*")
                .map_err(git("listing the tags of"))?
                .filter_map(Result::ok)
                .filter_map(|r| {
                    let name = r.name().ok()?.strip_prefix("refs/weir/tags/")?.to_owned();
                    Some((name, r.target()?))
                });
            let (tag, oid) = semver::highest(range, tags)
                .map_err(|reason| Error::Semver {
                    range: range.clone(),
                    reason,
                })?
                .ok_or_else(|| not_found(url, reference))?;
            chosen_tag = Some(tag);
            oid
        }
        _ => repo
            .refname_to_id(FETCHED)
            .map_err(|_| not_found(url, reference))?,
    };
    let commit = repo
        .find_object(oid, None)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| not_found(url, reference))?;

    let hash = commit.id().to_string();
    let revision = match reference {
        Reference::Branch(b) => format!("{b}@sha1:{hash}"),
        Reference::Tag(t) => format!("{t}@sha1:{hash}"),
        Reference::Name(n) => format!("{n}@sha1:{hash}"),
        Reference::Commit {
            branch: Some(b), ..
        } => format!("{b}@sha1:{hash}"),
        Reference::Semver(_) => {
            format!("{}@sha1:{hash}", chosen_tag.unwrap_or_default())
        }
        Reference::Commit { branch: None, .. } => format!("sha1:{hash}"),
    };
    Ok(Checkout {
        commit: hash,
        revision,
        summary: commit
            .summary()
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// Writes the tree of `commit` (fetched into `cache`) to `worktree`, emptied first.
pub fn export(cache: &Path, commit: &str, worktree: &Path) -> Result<(), Error> {
    let git = |operation: &'static str| {
        move |err: git2::Error| Error::Git {
            operation,
            url: cache.display().to_string(),
            message: err.message().to_owned(),
        }
    };
    let repo = Repository::open_bare(cache).map_err(git("opening"))?;
    let oid = Oid::from_str(commit).map_err(git("reading the commit in"))?;
    let commit = repo
        .find_object(oid, None)
        .and_then(|o| o.peel_to_commit())
        .map_err(git("finding the commit in"))?;
    if worktree.exists() {
        fs::remove_dir_all(worktree).map_err(|source| Error::Io {
            path: worktree.display().to_string(),
            source,
        })?;
    }
    fs::create_dir_all(worktree).map_err(|source| Error::Io {
        path: worktree.display().to_string(),
        source,
    })?;
    let mut builder = CheckoutBuilder::new();
    builder.target_dir(worktree).force().recreate_missing(true);
    repo.checkout_tree(commit.as_object(), Some(&mut builder))
        .map_err(git("checking out"))?;

    Ok(())
}

fn not_found(url: &str, reference: &Reference) -> Error {
    Error::NotFound {
        url: url.to_owned(),
        reference: reference.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_precedence_commit_name_tag_semver_branch() {
        let r = Reference::from_fields(Some("dev"), Some("v1"), Some(">=1"), None, None);
        assert_eq!(r, Reference::Tag("v1".into()));
        let r = Reference::from_fields(Some("dev"), Some("v1"), None, Some("refs/x"), None);
        assert_eq!(r, Reference::Name("refs/x".into()));
        let r = Reference::from_fields(Some("dev"), None, None, Some("refs/x"), Some("abc"));
        assert_eq!(
            r,
            Reference::Commit {
                sha: "abc".into(),
                branch: Some("dev".into())
            }
        );
        assert_eq!(
            Reference::from_fields(None, None, None, None, None),
            Reference::Branch("master".into())
        );
    }
}
