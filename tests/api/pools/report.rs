//! The event's report per pool and per offer, in JSON and CSV.

use poem::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn the_report_counts_each_pool_once_and_each_offer_its_own_sales_in_json_and_csv() {
    let app = TestApp::new().await;
    let s = app.stalls(10, 4).await;
    let user = app.create_user().await;
    let lines = [(s.adult.as_str(), s.rep.as_str(), 2), (s.child.as_str(), s.rep.as_str(), 1)];
    let id = app.order(&user, &lines).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    app.allocate(&s.adult, &s.rep).await;
    app.confirm(&id).await.expect(StatusCode::OK);

    let path = format!("/api/events/{}/report", s.event);
    let report = app.get(&path, Some(&app.admin)).await.expect(StatusCode::OK);
    let stalls = report["pools"].as_array().unwrap().iter().find(|p| p["pool_id"] == "stalls").unwrap();
    let mut offers = vec![s.adult.clone(), s.child.clone()];
    offers.sort();
    assert_eq!(
        (&stalls["total"], &stalls["available"], &stalls["held"], &stalls["sold"], &stalls["offers"]),
        (&json!(10), &json!(7), &json!(0), &json!(3), &json!(offers))
    );
    let line = |offer: &str| report["lines"].as_array().unwrap().iter().find(|l| l["offer_id"] == offer).unwrap();
    assert_eq!((&line(&s.adult)["sold"], &line(&s.adult)["revenue_minor"]), (&json!(2), &json!(9000)));
    assert_eq!((&line(&s.child)["sold"], &line(&s.child)["revenue_minor"]), (&json!(1), &json!(2500)));
    assert_eq!((&line(&s.child)["pool_id"], &line(&s.child)["available"]), (&json!("stalls"), &json!(7)));

    let csv = app
        .call(
            poem::Request::builder()
                .method(Method::GET)
                .uri(format!("{path}?by=pool").parse().unwrap())
                .header("authorization", format!("Bearer {}", app.admin))
                .header("accept", "text/csv")
                .finish(),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.body.as_str().unwrap();
    let mut rows = text.lines();
    assert_eq!(rows.next(), Some("pool_id,representation_id,starts_at,name,seated,total,available,held,sold,offers"));
    let stalls_row = rows.find(|r| r.starts_with("stalls,")).unwrap();
    assert!(stalls_row.ends_with(&format!(",Stalls,false,10,7,0,3,{}", offers.join(" "))), "{stalls_row}");
}
