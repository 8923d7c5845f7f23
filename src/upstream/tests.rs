use super::client::call;
use super::*;

const T: Duration = Duration::from_secs(5);

async fn issue(up: &Upstream) -> (String, String, String) {
    let a = call(
        "POST",
        &format!("{}/v1/credentials", up.base()),
        None,
        Some(&json!({"job_id": "job_1"})),
        T,
    )
    .await
    .unwrap();
    assert_eq!(a.status, 201);
    let s = |k: &str| a.body[k].as_str().unwrap().to_string();
    (s("id"), s("value"), s("endpoint"))
}

#[tokio::test]
async fn issues_validates_revokes_and_records() {
    let up = Upstream::start().unwrap();
    let (id, value, endpoint) = issue(&up).await;
    assert!(endpoint.starts_with(up.base()));
    assert_eq!(up.job_of(&id).as_deref(), Some("job_1"));
    let ok = call("GET", &endpoint, Some(&value), None, T).await.unwrap();
    assert_eq!(ok.status, 200);
    assert!(!up.revoked(&id));
    let r = call(
        "POST",
        &format!("{}/v1/credentials/{id}/revoke", up.base()),
        None,
        None,
        T,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(up.revoked(&id));
    let no = call("GET", &endpoint, Some(&value), None, T).await.unwrap();
    assert_eq!(no.status, 401);
    let log = up.log();
    assert_eq!(log.len(), 4);
    // Records name credentials by id, never by value.
    assert!(!serde_json::to_string(&log).unwrap().contains(&value));
}

#[tokio::test]
async fn rotation_keeps_the_old_value_until_it_is_revoked() {
    let up = Upstream::start().unwrap();
    let (id, old, _) = issue(&up).await;
    let r = call(
        "POST",
        &format!("{}/v1/credentials/{id}/rotate", up.base()),
        None,
        None,
        T,
    )
    .await
    .unwrap();
    let new = r.body["value"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(up.value_revoked(&old), Some(false));
    call(
        "POST",
        &format!("{}/v1/credentials/{id}/revoke", up.base()),
        None,
        Some(&json!({"value": old})),
        T,
    )
    .await
    .unwrap();
    assert_eq!(up.value_revoked(&old), Some(true));
    assert_eq!(up.value_revoked(&new), Some(false));
    assert!(!up.revoked(&id));
}

#[tokio::test]
async fn fails_n_times_then_recovers_and_records_elsewhere() {
    let up = Upstream::start().unwrap();
    let (id, value, _) = issue(&up).await;
    up.set_fail(FailPlan {
        op: Some(Op::Revoke),
        status: 503,
        times: Some(2),
        delay: Duration::ZERO,
        credential: None,
    });
    let url = format!("{}/v1/credentials/{id}/revoke", up.base());
    for want in [503, 503, 200] {
        assert_eq!(
            call("POST", &url, None, None, T).await.unwrap().status,
            want
        );
    }
    let other = call(
        "GET",
        &format!("{}/elsewhere", up.base()),
        Some(&value),
        None,
        T,
    )
    .await
    .unwrap();
    assert_eq!(other.status, 404);
    assert_eq!(up.presentations(Some(&id), Op::Elsewhere).len(), 1);
}

#[tokio::test]
async fn a_scoped_plan_fails_only_its_credential() {
    let up = Upstream::start().unwrap();
    let (a, _, _) = issue(&up).await;
    let (b, _, _) = issue(&up).await;
    up.set_fail(FailPlan {
        op: Some(Op::Revoke),
        status: 503,
        times: None,
        delay: Duration::ZERO,
        credential: Some(a.clone()),
    });
    let revoke = |id: &str| format!("{}/v1/credentials/{id}/revoke", up.base());
    assert_eq!(
        call("POST", &revoke(&b), None, None, T)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        call("POST", &revoke(&a), None, None, T)
            .await
            .unwrap()
            .status,
        503
    );
    up.clear_unscoped_fail();
    assert_eq!(
        call("POST", &revoke(&a), None, None, T)
            .await
            .unwrap()
            .status,
        503
    );
    up.set_fail(FailPlan {
        credential: Some(a.clone()),
        ..FailPlan::default()
    });
    assert_eq!(
        call("POST", &revoke(&a), None, None, T)
            .await
            .unwrap()
            .status,
        200
    );
}
