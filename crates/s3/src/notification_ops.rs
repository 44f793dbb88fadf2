//! Put/GetBucketNotificationConfiguration: rules that send a bucket's
//! events to targets configured on the server (webhooks, named by ARNs
//! such as `arn:minio:sqs::1:webhook`). The events are queued by the engine
//! in the same commit as the change; `almacen-notify` delivers them.

use almacen_engine::{EVENT_NAMES, NotificationRule};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::Almacen;
use crate::error::{s3_err, to_s3};

/// Whether `arn` names a configured target: same type and id (the region
/// part may be empty or the server's, as MinIO prints either).
fn known(targets: &crate::NotifyTargets, arn: &str) -> bool {
    let key = almacen_notify::arn_key;
    let targets = targets
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    key(arn).is_some_and(|k| targets.iter().any(|t| key(t).as_ref() == Some(&k)))
}

fn filter_of(f: Option<NotificationConfigurationFilter>) -> S3Result<(String, String)> {
    let (mut prefix, mut suffix) = (String::new(), String::new());
    for rule in f
        .and_then(|f| f.key)
        .and_then(|k| k.filter_rules)
        .unwrap_or_default()
    {
        let value = rule.value.unwrap_or_default();
        match rule.name.as_ref().map(FilterRuleName::as_str) {
            Some(n) if n.eq_ignore_ascii_case("prefix") => prefix = value,
            Some(n) if n.eq_ignore_ascii_case("suffix") => suffix = value,
            _ => {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    "filter rule name must be either prefix or suffix",
                ));
            }
        }
    }
    Ok((prefix, suffix))
}

fn filter_to(prefix: &str, suffix: &str) -> Option<NotificationConfigurationFilter> {
    let mut rules = Vec::new();
    for (name, v) in [("prefix", prefix), ("suffix", suffix)] {
        if !v.is_empty() {
            rules.push(FilterRule {
                name: Some(FilterRuleName::from(name.to_owned())),
                value: Some(v.to_owned()),
            });
        }
    }
    (!rules.is_empty()).then_some(NotificationConfigurationFilter {
        key: Some(S3KeyFilter {
            filter_rules: Some(rules),
        }),
    })
}

impl Almacen {
    pub(crate) async fn op_put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let input = req.input;
        let conf = input.notification_configuration;
        let mut rules = Vec::new();
        let mut add = |kind: &str,
                       id: Option<String>,
                       arn: String,
                       events: Vec<Event>,
                       filter|
         -> S3Result<()> {
            if !known(&self.notify_targets, &arn) {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    format!(
                        "A specified destination ARN does not exist or is not well-formed: {arn}"
                    ),
                ));
            }
            let events: Vec<String> = events.iter().map(|e| e.as_ref().to_owned()).collect();
            if let Some(bad) = events.iter().find(|e| !EVENT_NAMES.contains(&e.as_str())) {
                return Err(s3_err(
                    S3ErrorCode::InvalidArgument,
                    format!("The event is not supported for notifications: {bad}"),
                ));
            }
            let (prefix, suffix) = filter_of(filter)?;
            let n = rules.len() + 1;
            rules.push(NotificationRule {
                id: id.unwrap_or_else(|| format!("notification-{n}")),
                arn,
                kind: kind.to_owned(),
                events,
                prefix,
                suffix,
            });
            Ok(())
        };
        for q in conf.queue_configurations.unwrap_or_default() {
            add("Queue", q.id, q.queue_arn, q.events, q.filter)?;
        }
        for t in conf.topic_configurations.unwrap_or_default() {
            add("Topic", t.id, t.topic_arn, t.events, t.filter)?;
        }
        for l in conf.lambda_function_configurations.unwrap_or_default() {
            add(
                "CloudFunction",
                l.id,
                l.lambda_function_arn,
                l.events,
                l.filter,
            )?;
        }
        self.engine
            .set_notifications(&input.bucket, (!rules.is_empty()).then_some(rules))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(
            PutBucketNotificationConfigurationOutput::default(),
        ))
    }

    pub(crate) async fn op_get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let config = self
            .engine
            .bucket_config(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        let mut out = GetBucketNotificationConfigurationOutput::default();
        let (mut queues, mut topics, mut lambdas) = (Vec::new(), Vec::new(), Vec::new());
        for r in config.notifications.unwrap_or_default() {
            let events: Vec<Event> = r.events.iter().map(|e| Event::from(e.clone())).collect();
            let filter = filter_to(&r.prefix, &r.suffix);
            match r.kind.as_str() {
                "Topic" => topics.push(TopicConfiguration {
                    events,
                    filter,
                    id: Some(r.id),
                    topic_arn: r.arn,
                }),
                "CloudFunction" => lambdas.push(LambdaFunctionConfiguration {
                    events,
                    filter,
                    id: Some(r.id),
                    lambda_function_arn: r.arn,
                }),
                _ => queues.push(QueueConfiguration {
                    events,
                    filter,
                    id: Some(r.id),
                    queue_arn: r.arn,
                }),
            }
        }
        out.queue_configurations = (!queues.is_empty()).then_some(queues);
        out.topic_configurations = (!topics.is_empty()).then_some(topics);
        out.lambda_function_configurations = (!lambdas.is_empty()).then_some(lambdas);
        Ok(S3Response::new(out))
    }
}
