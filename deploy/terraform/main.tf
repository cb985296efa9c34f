# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The IAM role that xtap's pods assume to send segments to AWS X-Ray: through
# IRSA (the service account's OIDC token), EKS Pod Identity, or both.
#   terraform init && terraform apply -var cluster_name=my-cluster
# then put the role_arn output in deploy/kubernetes/10-serviceaccount.yaml
# (IRSA), or remove that annotation (Pod Identity only).

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_eks_pod_identity_association appeared in 5.29
      version = ">= 5.29"
    }
  }
}

variable "cluster_name" {
  type        = string
  description = "The EKS cluster that runs xtap"
}

variable "namespace" {
  type        = string
  default     = "xtap"
  description = "Namespace of xtap's service account (deploy/kubernetes)"
}

variable "service_account" {
  type        = string
  default     = "xtap"
  description = "Name of xtap's service account (deploy/kubernetes)"
}

variable "role_name" {
  type    = string
  default = "xtap"
}

variable "irsa" {
  type        = bool
  default     = true
  description = "Trust the cluster's OIDC provider for the service account (IRSA)"
}

variable "pod_identity" {
  type        = bool
  default     = false
  description = "Trust EKS Pod Identity and associate the role with the service account"
}

variable "least_privilege" {
  type        = bool
  default     = false
  description = "Grant only the X-Ray calls xtap makes (../iam/xray-policy.json) instead of the managed AWSXRayDaemonWriteAccess"
}

data "aws_partition" "current" {}

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

data "aws_iam_openid_connect_provider" "this" {
  count = var.irsa ? 1 : 0
  url   = data.aws_eks_cluster.this.identity[0].oidc[0].issuer
}

locals {
  # IAM's condition keys name the issuer without its scheme
  oidc_issuer = replace(data.aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
}

data "aws_iam_policy_document" "trust" {
  # IRSA: a token of this one service account, minted for STS
  dynamic "statement" {
    for_each = var.irsa ? [1] : []
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [data.aws_iam_openid_connect_provider.this[0].arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:sub"
        values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_issuer}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }

  # EKS Pod Identity: the association below names the service account
  dynamic "statement" {
    for_each = var.pod_identity ? [1] : []
    content {
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "xtap" {
  name               = var.role_name
  description        = "xtap on EKS cluster ${var.cluster_name}: sends segments to AWS X-Ray"
  assume_role_policy = data.aws_iam_policy_document.trust.json

  lifecycle {
    precondition {
      condition     = var.irsa || var.pod_identity
      error_message = "Set irsa or pod_identity (or both): a role nobody can assume is of no use."
    }
  }
}

resource "aws_iam_role_policy_attachment" "xray" {
  count      = var.least_privilege ? 0 : 1
  role       = aws_iam_role.xtap.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_iam_role_policy" "xray" {
  count  = var.least_privilege ? 1 : 0
  name   = "xtap-xray"
  role   = aws_iam_role.xtap.id
  policy = file("${path.module}/../iam/xray-policy.json")
}

resource "aws_eks_pod_identity_association" "xtap" {
  count           = var.pod_identity ? 1 : 0
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.xtap.arn
}

output "role_arn" {
  description = "The role's ARN, for the eks.amazonaws.com/role-arn annotation (IRSA)"
  value       = aws_iam_role.xtap.arn
}
