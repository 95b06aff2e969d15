//! `perf-shared-{env}`: the network Scenario 2's tasks run in. Public
//! subnets in two availability zones and an internet gateway — no NAT
//! gateway, whose hourly charge would dwarf a test's cost — and a security
//! group that allows egress only.

use serde_json::json;

use super::keys;
use crate::config::Config;
use crate::names::{self, StackKind};
use crate::tags::Tags;
use crate::template::{Template, get_att, r#ref};

pub(super) fn template(config: &Config) -> Template {
    let env = &config.env;
    let tags = Tags::new(config, StackKind::Shared);
    let vpc_name = names::vpc(env);
    let mut t = Template::new(format!(
        "dagbench shared network ({env}): a VPC with public subnets in two AZs, no NAT"
    ));
    t.resource(
        "Vpc",
        "AWS::EC2::VPC",
        json!({
            "CidrBlock": "10.0.0.0/16",
            "EnableDnsSupport": true,
            "EnableDnsHostnames": true,
            "Tags": tags.named(&vpc_name),
        }),
    );
    t.resource(
        "InternetGateway",
        "AWS::EC2::InternetGateway",
        json!({"Tags": tags.named(&format!("{vpc_name}-igw"))}),
    );
    t.resource(
        "GatewayAttachment",
        "AWS::EC2::VPCGatewayAttachment",
        json!({"VpcId": r#ref("Vpc"), "InternetGatewayId": r#ref("InternetGateway")}),
    );
    t.resource(
        "PublicRouteTable",
        "AWS::EC2::RouteTable",
        json!({"VpcId": r#ref("Vpc"), "Tags": tags.named(&format!("{vpc_name}-public"))}),
    );
    t.resource(
        "DefaultRoute",
        "AWS::EC2::Route",
        json!({
            "RouteTableId": r#ref("PublicRouteTable"),
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": r#ref("InternetGateway"),
        }),
    )["DependsOn"] = json!("GatewayAttachment");
    for (i, output) in keys::SUBNET_IDS.iter().enumerate() {
        let n = i + 1;
        let subnet = format!("PublicSubnet{n}");
        t.resource(
            &subnet,
            "AWS::EC2::Subnet",
            json!({
                "VpcId": r#ref("Vpc"),
                "CidrBlock": format!("10.0.{i}.0/24"),
                "AvailabilityZone": {"Fn::Select": [i, {"Fn::GetAZs": ""}]},
                "MapPublicIpOnLaunch": true,
                "Tags": tags.named(&format!("{vpc_name}-public-{n}")),
            }),
        );
        t.resource(
            &format!("{subnet}RouteTableAssociation"),
            "AWS::EC2::SubnetRouteTableAssociation",
            json!({"SubnetId": r#ref(&subnet), "RouteTableId": r#ref("PublicRouteTable")}),
        );
        t.output(
            output,
            &format!("Public subnet {n}"),
            r#ref(&subnet),
            Some(names::shared_export(env, output)),
        );
    }
    t.resource(
        "TaskSecurityGroup",
        "AWS::EC2::SecurityGroup",
        json!({
            "GroupDescription": "dagbench workers: egress only (SQS, S3, DynamoDB, ECR, CloudWatch)",
            "VpcId": r#ref("Vpc"),
            "SecurityGroupEgress": [{
                "Description": "HTTPS to AWS APIs and the image registry",
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "CidrIp": "0.0.0.0/0",
            }],
            "Tags": tags.named(&format!("{vpc_name}-tasks")),
        }),
    );
    t.output(
        keys::VPC_ID,
        "The shared VPC",
        r#ref("Vpc"),
        Some(names::shared_export(env, keys::VPC_ID)),
    );
    t.output(
        keys::SECURITY_GROUP_ID,
        "The workers' security group (egress only)",
        get_att("TaskSecurityGroup", "GroupId"),
        Some(names::shared_export(env, keys::SECURITY_GROUP_ID)),
    );
    t
}
