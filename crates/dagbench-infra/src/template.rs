//! A CloudFormation template as data: parameters, resources and outputs in
//! `serde_json` maps (sorted, so the printed template is stable), plus the
//! intrinsic functions the stacks use. Deliberately thin: the stacks read
//! like the CloudFormation they produce.

use serde_json::{Map, Value, json};

/// One template under construction.
#[derive(Debug, Clone, Default)]
pub struct Template {
    description: String,
    parameters: Map<String, Value>,
    resources: Map<String, Value>,
    outputs: Map<String, Value>,
}

/// Largest template `CreateStack` accepts inline (`TemplateBody`), bytes.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

impl Template {
    /// An empty template.
    #[must_use]
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            ..Self::default()
        }
    }

    /// Declares a `String` parameter.
    pub fn parameter(&mut self, name: &str, description: &str) {
        self.parameters.insert(
            name.to_owned(),
            json!({"Type": "String", "Description": description, "MinLength": 1}),
        );
    }

    /// Declares a `Number` parameter from `min` to `max` with a default.
    pub fn number_parameter(
        &mut self,
        name: &str,
        description: &str,
        default: u32,
        min: u32,
        max: u32,
    ) {
        self.parameters.insert(
            name.to_owned(),
            json!({"Type": "Number", "Description": description, "Default": default, "MinValue": min, "MaxValue": max}),
        );
    }

    /// Adds resource `logical` of `kind` with `properties`; returns it so
    /// that `DependsOn` and policies can be added.
    pub fn resource(&mut self, logical: &str, kind: &str, properties: Value) -> &mut Value {
        assert!(
            !self.resources.contains_key(logical),
            "resource {logical} defined twice"
        );
        let mut resource = Map::new();
        resource.insert("Type".into(), Value::from(kind));
        resource.insert("Properties".into(), properties);
        self.resources
            .insert(logical.to_owned(), Value::Object(resource));
        self.resources
            .get_mut(logical)
            .unwrap_or_else(|| unreachable!("just inserted"))
    }

    /// Adds output `name`; exported under `export` when other stacks import it.
    pub fn output(&mut self, name: &str, description: &str, value: Value, export: Option<String>) {
        let mut output = json!({ "Description": description });
        output["Value"] = value;
        if let Some(export) = export {
            output["Export"] = json!({"Name": export});
        }
        self.outputs.insert(name.to_owned(), output);
    }

    /// The resources, by logical id.
    #[must_use]
    pub fn resources(&self) -> &Map<String, Value> {
        &self.resources
    }

    /// The template as CloudFormation JSON.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut t = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.description,
            "Resources": self.resources,
        });
        if !self.parameters.is_empty() {
            t["Parameters"] = Value::Object(self.parameters.clone());
        }
        if !self.outputs.is_empty() {
            t["Outputs"] = Value::Object(self.outputs.clone());
        }
        t
    }

    /// Pretty JSON, as `dagbench synth` prints it.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(&self.to_value()).unwrap_or_else(|_| unreachable!());
        text.push('\n');
        text
    }

    /// Compact JSON, as sent to CloudFormation.
    #[must_use]
    pub fn to_body(&self) -> String {
        self.to_value().to_string()
    }
}

/// `{"Ref": name}`.
#[must_use]
pub fn r#ref(name: &str) -> Value {
    json!({ "Ref": name })
}

/// `{"Fn::GetAtt": [logical, attribute]}`.
#[must_use]
pub fn get_att(logical: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [logical, attribute] })
}

/// `{"Fn::Sub": text}`.
#[must_use]
pub fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// `{"Fn::ImportValue": export}`.
#[must_use]
pub fn import(export: &str) -> Value {
    json!({ "Fn::ImportValue": export })
}

/// An IAM policy statement allowing `actions` on `resources`.
#[must_use]
pub fn allow(sid: &str, actions: &[&str], resources: Vec<Value>) -> Value {
    let mut statement = json!({"Sid": sid, "Effect": "Allow", "Action": actions});
    statement["Resource"] = Value::Array(resources);
    statement
}

/// A role `service` may assume, with one inline policy of `statements`.
#[must_use]
pub fn role(service: &str, policy_name: &str, statements: Vec<Value>, tags: Value) -> Value {
    let mut role = json!({
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }],
        },
        "Policies": [{
            "PolicyName": policy_name,
            "PolicyDocument": {"Version": "2012-10-17"},
        }],
    });
    role["Policies"][0]["PolicyDocument"]["Statement"] = Value::Array(statements);
    role["Tags"] = tags;
    role
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_prints_its_sections_and_only_those_it_has() {
        let mut t = Template::new("test");
        t.resource("Queue", "AWS::SQS::Queue", json!({"QueueName": "q"}))["DependsOn"] =
            json!("Other");
        let v = t.to_value();
        assert_eq!(v["AWSTemplateFormatVersion"], "2010-09-09");
        assert_eq!(v["Resources"]["Queue"]["Type"], "AWS::SQS::Queue");
        assert_eq!(v["Resources"]["Queue"]["DependsOn"], "Other");
        assert!(v.get("Outputs").is_none() && v.get("Parameters").is_none());
        t.output("QueueUrl", "url", r#ref("Queue"), Some("x-QueueUrl".into()));
        t.parameter("Code", "code key");
        let v = t.to_value();
        assert_eq!(v["Outputs"]["QueueUrl"]["Export"]["Name"], "x-QueueUrl");
        assert_eq!(v["Parameters"]["Code"]["Type"], "String");
        assert_eq!(
            serde_json::from_str::<Value>(&t.to_body()).unwrap(),
            v,
            "the body is the same template"
        );
    }

    #[test]
    #[should_panic(expected = "defined twice")]
    fn a_logical_id_cannot_be_reused() {
        let mut t = Template::new("test");
        t.resource("A", "AWS::SQS::Queue", json!({}));
        t.resource("A", "AWS::SQS::Queue", json!({}));
    }
}
