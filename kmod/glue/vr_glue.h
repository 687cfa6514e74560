/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C half of vrouter.ko's FFI layer.
 *
 * It owns what is awkward or impossible to express from Rust on an unmodified 6.12 tree:
 * the static descriptor tables (genetlink family, ops, nla_policy built with the
 * NLA_POLICY_* macros, net_device_ops, the netdevice notifier, module parameters) and thin
 * wrappers around static-inline helpers. It holds no logic: every callback lands in a
 * `vr_rs_*` function implemented in Rust. kmod/kapi/sys.rs mirrors this header.
 */
#ifndef VR_GLUE_H
#define VR_GLUE_H

#include <linux/types.h>

struct sk_buff;
struct genl_info;
struct netlink_callback;
struct nlattr;
struct net_device;

/* ---- implemented in Rust ---- */
int vr_rs_doit(struct sk_buff *skb, struct genl_info *info);
int vr_rs_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
/* rx_handler of an attached device; returns true when the skb was consumed */
bool vr_rs_rx(void *vif, struct sk_buff *skb);
/* ndo_start_xmit of the vhost device; always consumes the skb */
void vr_rs_vhost_xmit(void *vif, struct sk_buff *skb);
/* NETDEV_UNREGISTER of a device we are attached to (RTNL held) */
void vr_rs_netdev_unregister(struct net_device *dev);

/* ---- module parameters ---- */
unsigned int vrg_param(unsigned int i);

/* ---- generic netlink ---- */
int vrg_genl_register(void);
void vrg_genl_unregister(void);
u8 vrg_info_cmd(const struct genl_info *info);
const struct nlattr *vrg_info_attr(const struct genl_info *info, int type);
void vrg_info_errmsg(struct genl_info *info, const struct nlattr *bad, const char *msg);
struct sk_buff *vrg_msg_new(size_t payload, bool atomic);
void vrg_msg_free(struct sk_buff *skb);
void *vrg_reply_put(struct sk_buff *skb, struct genl_info *info, u8 cmd);
int vrg_reply_send(struct sk_buff *skb, void *hdr, struct genl_info *info);
void *vrg_notify_put(struct sk_buff *skb, u8 cmd);
void vrg_notify_send(struct sk_buff *skb, void *hdr, unsigned int group, bool atomic);
bool vrg_has_listeners(unsigned int group);
void *vrg_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
u8 vrg_dump_cmd(struct netlink_callback *cb);
long *vrg_dump_args(struct netlink_callback *cb);
const struct nlattr *vrg_dump_attr(struct netlink_callback *cb, int type);
void vrg_msg_end(struct sk_buff *skb, void *hdr);
void vrg_msg_cancel(struct sk_buff *skb, void *hdr);
int vrg_put(struct sk_buff *skb, int type, int len, const void *data);
int vrg_put_u64(struct sk_buff *skb, int type, u64 value, int padtype);
struct nlattr *vrg_nest_start(struct sk_buff *skb, int type);
void vrg_nest_end(struct sk_buff *skb, struct nlattr *nest);
void vrg_nest_cancel(struct sk_buff *skb, struct nlattr *nest);
unsigned int vrg_skb_len(const struct sk_buff *skb);
const void *vrg_attr_data(const struct nlattr *attr);
int vrg_attr_len(const struct nlattr *attr);

/* ---- sk_buff ---- */
void vrg_skb_drop(struct sk_buff *skb);
void vrg_skb_consume(struct sk_buff *skb);
bool vrg_skb_writable(struct sk_buff *skb, unsigned int len);
bool vrg_skb_may_pull(struct sk_buff *skb, unsigned int len);
u8 *vrg_skb_data(const struct sk_buff *skb);
unsigned int vrg_skb_headlen(const struct sk_buff *skb);
bool vrg_skb_adjust_head(struct sk_buff *skb, int delta);
void vrg_skb_xmit(struct sk_buff *skb, struct net_device *dev, unsigned int l3_offset);
void vrg_skb_to_host(struct sk_buff *skb, struct net_device *dev);
struct sk_buff *vrg_skb_alloc(unsigned int len);
bool vrg_skb_dev_is(const struct sk_buff *skb, const struct net_device *dev);
bool vrg_skb_csum_partial(const struct sk_buff *skb);
bool vrg_skb_is_gso(const struct sk_buff *skb);
struct sk_buff *vrg_skb_segment(struct sk_buff *skb, unsigned int l3_offset);
bool vrg_skb_decapsulated(struct sk_buff *skb);
void vrg_skb_ip_output(struct sk_buff *skb, struct net_device *dev);
bool vrg_skb_is_encapsulated(const struct sk_buff *skb);
/* vrg_skb_tunnelled: the encapsulation (kapi::skb::TunnelKind), its outcome
 * (kapi::skb::TunnelError) and where the headers lie, from skb->data (kapi's
 * TunnelHeaders, #[repr(C)]) */
enum { VRG_TUNNEL_VXLAN, VRG_TUNNEL_MPLS_UDP, VRG_TUNNEL_MPLS_GRE };
enum { VRG_TUNNEL_OK, VRG_TUNNEL_TOO_BIG, VRG_TUNNEL_INVALID, VRG_TUNNEL_NO_MEMORY };
struct vrg_tunnel_hdrs {
	u32 kind;
	u32 outer_l3;
	u32 outer_l4;
	u32 inner_mac;
	u32 inner_l3;
	u32 inner_l4;
};
int vrg_skb_tunnelled(struct sk_buff *skb, const struct vrg_tunnel_hdrs *t, unsigned int mtu);
struct sk_buff *vrg_skb_list_pop(struct sk_buff **list);
void vrg_skb_list_drop(struct sk_buff *list);
void vrg_skb_csum_invalidate(struct sk_buff *skb);
u32 vrg_seconds(void);
u32 vrg_random_u32(void);
void vrg_local_bh_disable(void);
void vrg_local_bh_enable(void);
unsigned int vrg_cpu_id(void);
unsigned int vrg_nr_cpu_ids(void);

/* ---- net_device ---- */
struct net_device *vrg_dev_get_by_name(const char *name);
struct net_device *vrg_dev_get_by_index(int ifindex);
void vrg_dev_hold(struct net_device *dev);
void vrg_dev_put(struct net_device *dev);
int vrg_dev_ifindex(const struct net_device *dev);
const char *vrg_dev_name(const struct net_device *dev);
const u8 *vrg_dev_addr(const struct net_device *dev);
unsigned int vrg_dev_mtu(const struct net_device *dev);
bool vrg_dev_is_ether(const struct net_device *dev);
bool vrg_dev_has_rx_handler(const struct net_device *dev);
int vrg_rx_handler_register(struct net_device *dev, void *vif);
void vrg_rx_handler_unregister(struct net_device *dev);
struct net_device *vrg_vhost_create(const char *name, const u8 *mac, void *vif, int *err);
void vrg_vhost_destroy(struct net_device *dev);
void vrg_rtnl_lock(void);
void vrg_rtnl_unlock(void);
bool vrg_rtnl_is_locked(void);
int vrg_notifier_register(void);
void vrg_notifier_unregister(void);

/* ---- RCU ---- */
void vrg_rcu_read_lock(void);
void vrg_rcu_read_unlock(void);
void vrg_synchronize_rcu(void);
void vrg_call_rcu(struct rcu_head *head, rcu_callback_t func);
void vrg_rcu_barrier(void);
void vrg_flow_bucket_acquire(void);
void vrg_flow_bucket_release(void);

/* ---- per-CPU memory ---- */
void *vrg_percpu_alloc(size_t size, size_t align);
void vrg_percpu_free(void *ptr);
void *vrg_this_cpu_ptr(void *ptr);
void *vrg_per_cpu_ptr(void *ptr, int cpu);
int vrg_next_possible_cpu(int prev);

#endif /* VR_GLUE_H */
