//! Connection startup and authentication.
//!
//! With no users configured, loopback clients are trusted (like PostgreSQL's
//! default `trust` for local connections) and other clients are refused.
//! With users configured, every client authenticates with SCRAM-SHA-256.
//! Either way the client gets the ParameterStatus values of its session.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::sasl::scram::{gen_salted_password, random_nonce};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, AuthSource,
    LoginInfo, Password, ServerParameterProvider, StartupHandler,
};
use pgwire::api::{
    ClientInfo, ConnectionManager, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use lynx_sql::settings::Settings;

use crate::config::UserConfig;

/// Settings a client asked for in its startup packet, applied to `s`.
/// Unknown or invalid values are ignored, as PostgreSQL ignores unknown
/// startup options only for clients that set them with `-c`.
pub fn apply_startup_parameters(s: &mut Settings, metadata: &HashMap<String, String>) {
    for (k, v) in metadata {
        match k.as_str() {
            "user" | "database" | "replication" => {}
            "options" => {
                // "-c name=value -c name2=value2" or "--name=value"
                let mut words = v.split_whitespace();
                while let Some(w) = words.next() {
                    let assignment = match w {
                        "-c" => words.next(),
                        w if w.starts_with("--") => Some(&w[2..]),
                        w if w.starts_with("-c") => Some(&w[2..]),
                        _ => None,
                    };
                    if let Some((name, value)) = assignment.and_then(|a| a.split_once('=')) {
                        let _ = s.set(&name.replace('-', "_"), Some(value));
                    }
                }
            }
            name => {
                let _ = s.set(name, Some(v));
            }
        }
    }
}

/// ParameterStatus values sent after authentication.
pub struct LynxParameters;

impl ServerParameterProvider for LynxParameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut s = Settings::default();
        apply_startup_parameters(&mut s, client.metadata());
        if let Some(user) = client.metadata().get("user") {
            let _ = s.set("session_authorization", Some(user));
        }
        Some(s.reported().into_iter().collect())
    }
}

/// Trust authentication for loopback clients.
pub struct TrustStartup {
    pub manager: Arc<ConnectionManager>,
}

#[async_trait]
impl StartupHandler for TrustStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(ref startup) = message else {
            return Ok(());
        };
        protocol_negotiation(client, startup).await?;
        save_startup_parameters_to_metadata(client, startup);
        let addr = client.socket_addr();
        if !addr.ip().is_loopback() {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                "28000".into(),
                format!(
                    "no password is configured, so only loopback connections are trusted; {} was refused (configure [[users]] to allow remote clients)",
                    addr.ip()
                ),
            ))));
        }
        let (pid, secret) = RandomPidSecretKeyGenerator::default().generate(client);
        client.set_pid_and_secret_key(pid, secret.clone());
        let (handle, guard) = self.manager.register(pid, secret);
        client.session_extensions().insert(handle);
        client.session_extensions().insert(guard);
        finish_authentication(client, &LynxParameters).await
    }
}

/// Passwords of configured users, salted for SCRAM-SHA-256.
#[derive(Debug)]
pub struct UserPasswords {
    users: HashMap<String, (Vec<u8>, Vec<u8>)>,
}

pub const SCRAM_ITERATIONS: usize = 4096;

impl UserPasswords {
    pub fn new(users: &[UserConfig]) -> UserPasswords {
        let users = users
            .iter()
            .map(|u| {
                // 18 random bytes (base64 text) from pgwire's OS-seeded RNG.
                let salt = random_nonce().into_bytes();
                let hashed = gen_salted_password(&u.password, &salt, SCRAM_ITERATIONS);
                (u.name.clone(), (salt, hashed))
            })
            .collect();
        UserPasswords { users }
    }
}

#[async_trait]
impl AuthSource for UserPasswords {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.users.get(user) {
            Some((salt, hashed)) => Ok(Password::new(Some(salt.clone()), hashed.clone())),
            // Unknown users fail the same way as a wrong password.
            None => Ok(Password::new(Some(vec![0; 16]), vec![0; 32])),
        }
    }
}
