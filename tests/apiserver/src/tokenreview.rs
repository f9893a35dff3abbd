//! `POST /apis/authentication.k8s.io/v1/tokenreviews`: whether a bearer token authenticates,
//! and as whom, as kube-apiserver answers it (`pkg/registry/authentication/tokenreview/
//! storage.go` `REST.Create`): nothing is stored; the answer is the request with its status
//! filled in, `201 Created`. The caller needs `create` on `tokenreviews` at the cluster scope.

use serde_json::{Value, json};

use crate::auth::{AuthConfig, UserInfo};
use crate::status::ApiError;

/// The answer to a TokenReview `body` sent by `caller` with `method`: the review (201) or the
/// API error.
pub fn review(
    auth: &AuthConfig,
    caller: &UserInfo,
    method: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    if method != "POST" {
        return Err(ApiError::new(
            405,
            Some("MethodNotAllowed"),
            &format!("{method} is not supported on resources of kind \"tokenreviews\""),
        ));
    }
    if !auth.authorize(caller, "create", "tokenreviews", "") {
        return Err(ApiError::new(
            403,
            Some("Forbidden"),
            &format!(
                "tokenreviews.authentication.k8s.io is forbidden: User \"{}\" cannot create \
                 resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the \
                 cluster scope",
                caller.name
            ),
        ));
    }
    let mut review: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(&format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })?;
    if review["kind"] != "TokenReview" || review["apiVersion"] != "authentication.k8s.io/v1" {
        return Err(ApiError::bad_request(
            "the body is not an authentication.k8s.io/v1 TokenReview",
        ));
    }
    let token = review["spec"]["token"].as_str().unwrap_or("");
    if token.is_empty() {
        // storage.go: a review without a token is a bad request.
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    // `authenticated` and the user are omitted when false/empty (`omitempty`).
    let status = match auth.token_user(token) {
        Some(user) => json!({
            "authenticated": true,
            "user": {"username": user.name, "groups": user.groups},
        }),
        None => json!({"user": {}}),
    };
    review["metadata"] = json!({"creationTimestamp": null});
    review["status"] = status;
    Ok(review)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AllowRule;
    use std::collections::BTreeMap;

    fn auth() -> AuthConfig {
        AuthConfig {
            tokens: BTreeMap::from([
                (
                    "reviewer".into(),
                    "system:serviceaccount:astro-system:astro".into(),
                ),
                ("sa".into(), "system:serviceaccount:ci:bot".into()),
            ]),
            allow_anonymous: false,
            allow: Some(vec![AllowRule::new(
                "system:serviceaccount:astro-system:astro",
                &["create"],
                &["tokenreviews"],
            )]),
        }
    }

    fn body(token: &str) -> Vec<u8> {
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
               "spec": {"token": token}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_known_token_is_its_user_an_unknown_one_is_not_authenticated() {
        let auth = auth();
        let Some(reviewer) = auth.token_user("reviewer") else {
            panic!("reviewer unknown")
        };
        let known =
            review(&auth, &reviewer, "POST", &body("sa")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(known["status"]["authenticated"], true);
        assert_eq!(
            known["status"]["user"]["username"],
            "system:serviceaccount:ci:bot"
        );
        assert_eq!(
            known["status"]["user"]["groups"],
            json!([
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                "system:authenticated"
            ])
        );
        let unknown =
            review(&auth, &reviewer, "POST", &body("nope")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(unknown["status"], json!({"user": {}}));
    }

    #[test]
    fn the_reviewer_needs_create_on_tokenreviews() {
        let auth = auth();
        let Some(bot) = auth.token_user("sa") else {
            panic!("sa unknown")
        };
        let Err(e) = review(&auth, &bot, "POST", &body("sa")) else {
            panic!("allowed")
        };
        assert_eq!(e.code, 403);
        let Some(reviewer) = auth.token_user("reviewer") else {
            panic!("reviewer unknown")
        };
        for (method, bad, code) in [
            ("GET", body("sa"), 405),
            ("POST", body(""), 400),
            ("POST", b"{".to_vec(), 400),
        ] {
            match review(&auth, &reviewer, method, &bad) {
                Err(e) => assert_eq!(e.code, code, "{method}"),
                Ok(v) => panic!("{method}: {v}"),
            }
        }
    }
}
