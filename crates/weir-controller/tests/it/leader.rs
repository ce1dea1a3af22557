use weir_controller::leader::Election;
use weir_testenv::TestEnv;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn one_replica_leads_until_it_lets_go() -> TestResult {
    let env = TestEnv::new("leader").await?;
    let a = Election::new(env.client.clone(), env.namespace(), "lease", "replica-a");
    let b = Election::new(env.client.clone(), env.namespace(), "lease", "replica-b");
    assert!(a.try_acquire().await?);
    assert!(!b.try_acquire().await?, "two leaders");
    assert!(a.try_acquire().await?, "the leader cannot renew");
    a.release().await;
    assert!(b.try_acquire().await?, "the lease was not released");
    assert!(!a.try_acquire().await?);
    Ok(())
}
