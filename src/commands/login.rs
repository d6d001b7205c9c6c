//! `cutover login`: the OAuth2 device-code sign-in.

use cutover_engine::config::{self, Project};

use crate::cli::Side;
use crate::error::{Error, Result};
use crate::exit::ExitCode;

/// `cutover login`: the device-code sign-in for one side.
pub async fn login(
    project: &Project,
    side: Option<Side>,
    user: Option<String>,
) -> Result<ExitCode> {
    use config::OAuthFlow;
    let device = |e: &config::Endpoint| {
        e.oauth
            .as_ref()
            .is_some_and(|o| o.flow == OAuthFlow::DeviceCode)
    };
    let (name, ep): (&'static str, &config::Endpoint) = match side {
        Some(Side::Source) => ("source", &project.source),
        Some(Side::Destination) => ("destination", &project.destination),
        None => match (device(&project.source), device(&project.destination)) {
            (true, false) => ("source", &project.source),
            (false, true) => ("destination", &project.destination),
            (true, true) => {
                return Err(Error::Usage(
                    "both sides use flow = \"device-code\": name one with --side source or --side destination".into(),
                ));
            }
            (false, false) => {
                return Err(Error::NotInProject(format!(
                    "no side of {} uses [oauth] flow = \"device-code\"; `cutover login` is only for that flow",
                    project.file.display()
                )));
            }
        },
    };
    if !device(ep) {
        return Err(Error::NotInProject(format!(
            "the {name} side has no [{name}.oauth] with flow = \"device-code\"; `cutover login` is only for that flow"
        )));
    }
    let provider = match cutover_engine::endpoint::oauth::TokenProvider::for_endpoint(
        ep,
        name,
        &project.state_path,
    )? {
        Some(p) => p,
        // Cannot happen: `device(ep)` found its [oauth].
        None => return Ok(ExitCode::Config),
    };
    let who = user.as_deref().unwrap_or("every mailbox of this side");
    let shown = provider
        .device_login(user.as_deref(), |code| {
            println!("Sign in for the {name} side ({who}):");
            println!("  open   {}", code.verification_uri);
            println!("  enter  {}", code.user_code);
            println!(
                "  the code is valid for {} minute(s); waiting for the sign-in ...",
                code.expires_in.div_ceil(60)
            );
        })
        .await;
    let path = shown.map_err(Error::SignIn)?;
    println!(
        "signed in: the refresh token is kept in {} (mode 0600); runs renew their access tokens from it",
        path.display()
    );
    Ok(ExitCode::Success)
}
