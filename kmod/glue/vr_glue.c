// SPDX-License-Identifier: GPL-2.0
/*
 * Descriptor tables and static-inline wrappers for vrouter.ko; see vr_glue.h.
 * No logic here: callbacks go straight to Rust (vr_rs_*).
 */
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <linux/percpu.h>
#include <linux/lockdep.h>
#include <linux/rcupdate.h>
#include <net/genetlink.h>
#include <net/gso.h>
#include <net/ip.h>
#include <net/route.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <linux/random.h>
#include <linux/jiffies.h>
#include <linux/math64.h>
#include <linux/bottom_half.h>
#include <net/netfilter/nf_conntrack.h>

#include "vr_glue.h"
#include "vr_uapi.h"

/* ---- module parameters (6.12's Rust `module!` has none), from VR_PARAMS ---- */

#define VR_PARAM_DECLARE(name, def, min, max, desc)				\
	static unsigned int vr_##name = def;					\
	module_param(vr_##name, uint, 0444);					\
	MODULE_PARM_DESC(vr_##name, desc " (default " #def ", " #min ".." #max ")");
VR_PARAMS(VR_PARAM_DECLARE)

#define VR_PARAM_ADDRESS(name, def, min, max, desc) &vr_##name,
static const unsigned int *const vr_params[VR_PARAM_COUNT] = { VR_PARAMS(VR_PARAM_ADDRESS) };

/* Parameter `i` of wire.rs PARAMS (the Rust side checks the ranges); 0 past the end. */
unsigned int vrg_param(unsigned int i)
{
	return i < VR_PARAM_COUNT ? *vr_params[i] : 0;
}

/* ---- generic netlink family `vrouter` ---- */

static const struct nla_policy vr_vif_stats_policy[VR_VIF_STATS_ATTR_MAX + 1] =
	VR_VIF_STATS_POLICY_INIT;
static const struct nla_policy vr_vif_policy[VR_VIF_ATTR_MAX + 1] = VR_VIF_POLICY_INIT;
static const struct nla_policy vr_nh_policy[VR_NH_ATTR_MAX + 1] = VR_NH_POLICY_INIT;
static const struct nla_policy vr_rt_policy[VR_RT_ATTR_MAX + 1] = VR_RT_POLICY_INIT;
static const struct nla_policy vr_mpls_policy[VR_MPLS_ATTR_MAX + 1] = VR_MPLS_POLICY_INIT;
static const struct nla_policy vr_vxlan_policy[VR_VXLAN_ATTR_MAX + 1] = VR_VXLAN_POLICY_INIT;
static const struct nla_policy vr_drop_stats_policy[VR_DROP_STATS_ATTR_MAX + 1] =
	VR_DROP_STATS_POLICY_INIT;
static const struct nla_policy vr_vrf_stats_policy[VR_VRF_STATS_ATTR_MAX + 1] =
	VR_VRF_STATS_POLICY_INIT;
static const struct nla_policy vr_info_policy[VR_INFO_ATTR_MAX + 1] = VR_INFO_POLICY_INIT;
static const struct nla_policy vr_flow_policy[VR_FLOW_ATTR_MAX + 1] = VR_FLOW_POLICY_INIT;
static const struct nla_policy vr_flow_table_policy[VR_FLOW_TABLE_ATTR_MAX + 1] =
	VR_FLOW_TABLE_POLICY_INIT;

#define VR_OP(_cmd, _set, _SET, _flags) {				\
		.cmd = VR_CMD_##_cmd,					\
		.doit = vr_rs_doit,					\
		.policy = vr_##_set##_policy,				\
		.maxattr = VR_##_SET##_ATTR_MAX,			\
		.flags = _flags,					\
	}
#define VR_OP_DUMP(_cmd, _set, _SET, _flags) {				\
		.cmd = VR_CMD_##_cmd,					\
		.doit = vr_rs_doit,					\
		.dumpit = vr_dumpit,					\
		.policy = vr_##_set##_policy,				\
		.maxattr = VR_##_SET##_ATTR_MAX,			\
		.flags = _flags,					\
	}

static int vr_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return vr_rs_dumpit(skb, cb);
}

/* The table is generated from wire.rs COMMANDS (vr_uapi.h), like the policies. */
static const struct genl_ops vr_ops[] = { VR_OPS_INIT };

static const struct genl_multicast_group vr_mcgrps[] = {
	[VR_MCGRP_CONFIG] = { .name = VR_MCGRP_CONFIG_NAME },
	[VR_MCGRP_FLOWS] = { .name = VR_MCGRP_FLOWS_NAME, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family vr_family __ro_after_init = {
	.name = VR_FAMILY_NAME,
	.version = VR_FAMILY_VERSION,
	.netnsok = false,
	/* Rust serialises writers itself (RTNL for vifs), so genl_mutex is not needed. */
	.parallel_ops = true,
	.ops = vr_ops,
	.n_ops = ARRAY_SIZE(vr_ops),
	.mcgrps = vr_mcgrps,
	.n_mcgrps = ARRAY_SIZE(vr_mcgrps),
	.resv_start_op = VR_CMD_MAX + 1,
	.module = THIS_MODULE,
};

int vrg_genl_register(void)
{
	return genl_register_family(&vr_family);
}

void vrg_genl_unregister(void)
{
	genl_unregister_family(&vr_family);
}

u8 vrg_info_cmd(const struct genl_info *info)
{
	return info->genlhdr->cmd;
}

/* attrs[] has maxattr + 1 entries for the op that parsed it */
static int vr_op_maxattr(u8 cmd)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vr_ops); i++)
		if (vr_ops[i].cmd == cmd)
			return vr_ops[i].maxattr;
	return 0;
}

const struct nlattr *vrg_info_attr(const struct genl_info *info, int type)
{
	if (!info->attrs || type <= 0 || type > vr_op_maxattr(info->genlhdr->cmd))
		return NULL;
	return info->attrs[type];
}

void vrg_info_errmsg(struct genl_info *info, const struct nlattr *bad, const char *msg)
{
	/* msg must be static: extack keeps the pointer. NL_SET_ERR_MSG_ATTR wants a
	 * literal, so set the fields it sets. */
	if (!info->extack)
		return;
	info->extack->_msg = msg;
	if (bad)
		NL_SET_BAD_ATTR(info->extack, bad);
}

/* `atomic`: called from the packet path (softirq), which must not sleep. */
struct sk_buff *vrg_msg_new(size_t payload, bool atomic)
{
	return genlmsg_new(payload, atomic ? GFP_ATOMIC : GFP_KERNEL);
}

void vrg_msg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

void *vrg_reply_put(struct sk_buff *skb, struct genl_info *info, u8 cmd)
{
	return genlmsg_put_reply(skb, info, &vr_family, 0, cmd);
}

int vrg_reply_send(struct sk_buff *skb, void *hdr, struct genl_info *info)
{
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

void *vrg_notify_put(struct sk_buff *skb, u8 cmd)
{
	return genlmsg_put(skb, 0, 0, &vr_family, 0, cmd);
}

void vrg_notify_send(struct sk_buff *skb, void *hdr, unsigned int group, bool atomic)
{
	genlmsg_end(skb, hdr);
	/* no listener (-ESRCH) is not an error for a notification; a full listener socket
	 * (-ENOBUFS) is the listener's to notice (its next recv fails with ENOBUFS) */
	genlmsg_multicast(&vr_family, skb, 0, group, atomic ? GFP_ATOMIC : GFP_KERNEL);
}

bool vrg_has_listeners(unsigned int group)
{
	return genl_has_listeners(&vr_family, &init_net, group);
}

void *vrg_dump_put(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &vr_family, NLM_F_MULTI, cmd);
}

u8 vrg_dump_cmd(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->genlhdr->cmd;
}

long *vrg_dump_args(struct netlink_callback *cb)
{
	return cb->args;
}

const struct nlattr *vrg_dump_attr(struct netlink_callback *cb, int type)
{
	return vrg_info_attr(genl_info_dump(cb), type);
}

void vrg_msg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void vrg_msg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int vrg_put(struct sk_buff *skb, int type, int len, const void *data)
{
	return nla_put(skb, type, len, data);
}

int vrg_put_u64(struct sk_buff *skb, int type, u64 value, int padtype)
{
	return nla_put_u64_64bit(skb, type, value, padtype);
}

struct nlattr *vrg_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void vrg_nest_end(struct sk_buff *skb, struct nlattr *nest)
{
	nla_nest_end(skb, nest);
}

void vrg_nest_cancel(struct sk_buff *skb, struct nlattr *nest)
{
	nla_nest_cancel(skb, nest);
}

unsigned int vrg_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

const void *vrg_attr_data(const struct nlattr *attr)
{
	return nla_data(attr);
}

int vrg_attr_len(const struct nlattr *attr)
{
	return nla_len(attr);
}

/* ---- sk_buff ---- */

void vrg_skb_drop(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void vrg_skb_consume(struct sk_buff *skb)
{
	consume_skb(skb);
}

/* Makes the first `len` bytes linear and writable (a private copy of shared data). */
bool vrg_skb_writable(struct sk_buff *skb, unsigned int len)
{
	return skb_ensure_writable(skb, len) == 0;
}

/* Makes the first `len` bytes linear, for reading only (a clone's data is not copied). */
bool vrg_skb_may_pull(struct sk_buff *skb, unsigned int len)
{
	return pskb_may_pull(skb, len);
}

u8 *vrg_skb_data(const struct sk_buff *skb)
{
	return skb->data;
}

unsigned int vrg_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

/* Grows (delta > 0) or shrinks the front of the packet by |delta| bytes. */
bool vrg_skb_adjust_head(struct sk_buff *skb, int delta)
{
	if (delta > 0) {
		if (skb_cow_head(skb, delta))
			return false;
		skb_push(skb, delta);
	} else if (delta < 0) {
		if (!pskb_may_pull(skb, -delta))
			return false;
		__skb_pull(skb, -delta);
	}
	return true;
}

/* Sends a whole Ethernet frame (skb->data at the MAC header) out of `dev`. */
static const struct net_device_ops vr_vhost_ops;

/* Checked here, not trusted from the caller: the EtherType just before `l3_offset` must
 * lie in the linear data. A frame that breaks it is dropped. */
void vrg_skb_xmit(struct sk_buff *skb, struct net_device *dev, unsigned int l3_offset)
{
	if (unlikely(l3_offset < 2 || l3_offset > skb_headlen(skb))) {
		kfree_skb(skb);
		return;
	}
	skb->dev = dev;
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, l3_offset);
	skb->mac_len = l3_offset;
	memcpy(&skb->protocol, skb->data + l3_offset - 2, sizeof(skb->protocol));
	skb_dst_drop(skb);
	nf_reset_ct(skb);
	skb->pkt_type = PACKET_OUTGOING;
	dev_queue_xmit(skb);
}

/* Hands a frame to the host stack as if `dev` (the vhost device) had received it. */
void vrg_skb_to_host(struct sk_buff *skb, struct net_device *dev)
{
	struct ethhdr *eth;

	/* Only the vhost device has the tstats counted below; the Ethernet header is
	 * rewritten, so it must be linear and not shared with a clone. */
	if (unlikely(dev->netdev_ops != &vr_vhost_ops || skb_ensure_writable(skb, ETH_HLEN))) {
		kfree_skb(skb);
		return;
	}
	eth = (struct ethhdr *)skb->data;
	ether_addr_copy(eth->h_dest, dev->dev_addr);
	/* eth_type_trans only ever downgrades pkt_type; the receiving veth set OTHERHOST */
	skb->pkt_type = PACKET_HOST;
	skb_dst_drop(skb);
	nf_reset_ct(skb);
	skb->protocol = eth_type_trans(skb, dev);
	skb_reset_network_header(skb);
	dev_sw_netstats_rx_add(dev, skb->len);
	netif_rx(skb);
}

/* Whether the packet is a GSO super-packet: more than one frame's worth on the wire. */
bool vrg_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

/* Cuts a GSO packet (data at its Ethernet header, network header at `l3_offset`) into
 * whole frames in software, checksums filled in (no offload features asked for), as
 * dev_queue_xmit would for a device without TSO. Returns the list of segments and frees
 * the original, or NULL with the original left to the caller. */
struct sk_buff *vrg_skb_segment(struct sk_buff *skb, unsigned int l3_offset)
{
	struct sk_buff *segs;

	if (unlikely(!skb_is_gso(skb) || l3_offset < 2 || l3_offset > skb_headlen(skb)))
		return NULL;
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, l3_offset);
	memcpy(&skb->protocol, skb->data + l3_offset - 2, sizeof(skb->protocol));
	segs = skb_gso_segment(skb, 0);
	if (IS_ERR_OR_NULL(segs))
		return NULL;
	consume_skb(skb);
	return segs;
}

/* After the outer headers of a tunnel packet came off: it is no longer encapsulated, as
 * iptunnel_pull_offloads says for the kernel's own tunnels. A GSO packet stays one (the
 * inner TCP/UDP segmentation is still to be done, by whoever sends it on). Returns false
 * when a GSO packet's shared info cannot be made private (it is left as it was). */
bool vrg_skb_decapsulated(struct sk_buff *skb)
{
	if (skb_is_gso(skb)) {
		if (skb_unclone(skb, GFP_ATOMIC))
			return false;
		skb_shinfo(skb)->gso_type &= ~(NETIF_F_GSO_ENCAP_ALL >> NETIF_F_GSO_SHIFT);
	}
	skb->encapsulation = 0;
	return true;
}

/* Whether the packet already carries a tunnel's offload state (a pod's own tunnel). */
bool vrg_skb_is_encapsulated(const struct sk_buff *skb)
{
	return skb->encapsulation;
}

/* Rust passes kapi::skb::TunnelHeaders: six u32 in this order. */
static_assert(sizeof(struct vrg_tunnel_hdrs) == 6 * sizeof(u32));

/* The offsets vrg_skb_tunnelled takes must increase, lie in the linear data and fit
 * the skb's 16-bit header fields. A GSO packet cut by TCP needs its inner TCP header
 * there too (skb_gso_validate_network_len reads its length). */
static bool vrg_tunnel_offsets_ok(const struct sk_buff *skb, const struct vrg_tunnel_hdrs *t)
{
	unsigned int end = t->inner_l4;

	if (skb_is_gso_tcp(skb))
		end += sizeof(struct tcphdr);
	return t->outer_l3 < t->outer_l4 && t->outer_l4 <= t->inner_mac &&
	       t->inner_mac <= t->inner_l3 && t->inner_l3 <= t->inner_l4 &&
	       end <= skb_headlen(skb) && skb_headroom(skb) + end < U16_MAX;
}

/* The offload state of the kernel's tunnels (iptunnel_handle_offloads): the inner
 * headers named, the inner protocol and the GSO type of the encapsulation. */
static int vrg_tunnel_offload(struct sk_buff *skb, const struct vrg_tunnel_hdrs *t)
{
	bool vxlan = t->kind == VRG_TUNNEL_VXLAN;

	if (skb_is_gso(skb)) {
		if (skb_header_unclone(skb, GFP_ATOMIC))
			return -ENOMEM;
		skb_shinfo(skb)->gso_type |= t->kind == VRG_TUNNEL_MPLS_GRE ? SKB_GSO_GRE :
									      SKB_GSO_UDP_TUNNEL;
	} else if (skb->ip_summed != CHECKSUM_PARTIAL) {
		/* nothing left to offload: no driver may take the inner headers for work */
		skb->ip_summed = CHECKSUM_NONE;
		skb->encapsulation = 0;
		return 0;
	}
	if (skb->encapsulation)
		return 0; /* a pod's tunnel inside ours: its inner headers stay */
	skb_set_inner_mac_header(skb, t->inner_mac);
	skb_set_inner_network_header(skb, t->inner_l3);
	skb_set_inner_transport_header(skb, t->inner_l4);
	skb_set_inner_protocol(skb, htons(vxlan ? ETH_P_TEB : ETH_P_MPLS_UC));
	skb->encapsulation = 1;
	return 0;
}

/* After a tunnel's outer headers went on (offsets from skb->data, checked here): marks
 * the packet as the kernel's own tunnels do, so that a GSO packet goes out whole and
 * the device, or validate_xmit_skb in software, cuts it late, fixing the outer headers
 * of each segment; an inner checksum left to offload stays so. Then checks that each
 * frame's IPv4 packet fits `mtu`. The kernel cannot segment MPLS inside a tunnel
 * (mpls_gso_segment and the UDP/GRE tunnel segmentation both need skb->inner_protocol
 * and the inner network header, for different layers), nor a second tunnel level: such
 * GSO packets are refused, to be cut in software first. */
int vrg_skb_tunnelled(struct sk_buff *skb, const struct vrg_tunnel_hdrs *t, unsigned int mtu)
{
	int err;

	if (t->kind > VRG_TUNNEL_MPLS_GRE || !vrg_tunnel_offsets_ok(skb, t))
		return VRG_TUNNEL_INVALID;
	if (skb_is_gso(skb) && (t->kind != VRG_TUNNEL_VXLAN || skb->encapsulation))
		return VRG_TUNNEL_INVALID;
	if (!skb_is_gso(skb) && skb->len - t->outer_l3 > mtu)
		return VRG_TUNNEL_TOO_BIG;
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, t->outer_l3);
	skb_set_transport_header(skb, t->outer_l4);
	err = vrg_tunnel_offload(skb, t);
	if (err)
		return VRG_TUNNEL_NO_MEMORY;
	/* per segment, as ip_finish_output_gso checks it: the outer headers included */
	if (skb_is_gso(skb) && !skb_gso_validate_network_len(skb, mtu))
		return VRG_TUNNEL_TOO_BIG;
	return VRG_TUNNEL_OK;
}

/* Sends an IPv4 packet (skb->data at its IPv4 header, total length and checksum filled
 * in) by the host's routing in `dev`'s namespace: its route, neighbour and netfilter
 * OUTPUT hooks, as the kernel's own tunnels send (iptunnel_xmit). The source address
 * must be one of the host's: the route lookup refuses any other, and the packet is
 * dropped. */
void vrg_skb_ip_output(struct sk_buff *skb, struct net_device *dev)
{
	struct net *net = dev_net(dev);
	struct flowi4 fl4 = {};
	struct rtable *rt;
	struct iphdr *iph;

	if (unlikely(!pskb_may_pull(skb, sizeof(*iph)))) {
		kfree_skb(skb);
		return;
	}
	skb_reset_network_header(skb);
	iph = ip_hdr(skb);
	fl4.daddr = iph->daddr;
	fl4.saddr = iph->saddr;
	fl4.flowi4_proto = iph->protocol;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt)) {
		kfree_skb(skb);
		return;
	}
	skb_scrub_packet(skb, true);
	skb_dst_set(skb, &rt->dst);
	memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
	skb->protocol = htons(ETH_P_IP);
	ip_local_out(net, NULL, skb);
}

/* Takes the first packet off a list of segments (NULL once it is empty). */
struct sk_buff *vrg_skb_list_pop(struct sk_buff **list)
{
	struct sk_buff *skb = *list;

	if (skb) {
		*list = skb->next;
		skb_mark_not_on_list(skb);
	}
	return skb;
}

/* Frees what is left of a list of segments. */
void vrg_skb_list_drop(struct sk_buff *list)
{
	kfree_skb_list(list);
}

/* Whether skb->dev is `dev`: a comparison of pointers, safe even if skb->dev is gone. */
bool vrg_skb_dev_is(const struct sk_buff *skb, const struct net_device *dev)
{
	return skb->dev == dev;
}

/* Whether the L4 checksum is left to offload (the field holds the pseudo-header sum). */
bool vrg_skb_csum_partial(const struct sk_buff *skb)
{
	return skb->ip_summed == CHECKSUM_PARTIAL;
}

/* Before rewriting headers: a receive checksum over the old bytes would be wrong. */
void vrg_skb_csum_invalidate(struct sk_buff *skb)
{
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
}

/* Seconds since boot, coarse (jiffies): flow ages. */
u32 vrg_seconds(void)
{
	return (u32)div_u64(get_jiffies_64(), HZ);
}

u32 vrg_random_u32(void)
{
	return get_random_u32();
}

void vrg_local_bh_disable(void)
{
	local_bh_disable();
}

void vrg_local_bh_enable(void)
{
	local_bh_enable();
}

/* A new linear packet of `len` bytes (contents undefined), NULL without memory. */
struct sk_buff *vrg_skb_alloc(unsigned int len)
{
	struct sk_buff *skb = alloc_skb(len + NET_SKB_PAD + NET_IP_ALIGN, GFP_ATOMIC);

	if (!skb)
		return NULL;
	skb_reserve(skb, NET_SKB_PAD + NET_IP_ALIGN);
	skb_put(skb, len);
	return skb;
}

unsigned int vrg_cpu_id(void)
{
	return raw_smp_processor_id();
}

unsigned int vrg_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

/* ---- net_device ---- */

struct net_device *vrg_dev_get_by_name(const char *name)
{
	return dev_get_by_name(&init_net, name);
}

struct net_device *vrg_dev_get_by_index(int ifindex)
{
	return dev_get_by_index(&init_net, ifindex);
}

void vrg_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

void vrg_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

int vrg_dev_ifindex(const struct net_device *dev)
{
	return dev->ifindex;
}

const char *vrg_dev_name(const struct net_device *dev)
{
	return dev->name;
}

const u8 *vrg_dev_addr(const struct net_device *dev)
{
	return dev->dev_addr;
}

unsigned int vrg_dev_mtu(const struct net_device *dev)
{
	return READ_ONCE(dev->mtu);
}

bool vrg_dev_is_ether(const struct net_device *dev)
{
	return dev->type == ARPHRD_ETHER && !(dev->flags & IFF_LOOPBACK) &&
	       dev->addr_len == ETH_ALEN;
}

bool vrg_dev_has_rx_handler(const struct net_device *dev)
{
	return rcu_access_pointer(dev->rx_handler) != NULL;
}

static rx_handler_result_t vr_rx_handler(struct sk_buff **pskb)
{
	struct sk_buff *skb = *pskb;
	void *vif = rcu_dereference(skb->dev->rx_handler_data);

	if (unlikely(!vif))
		return RX_HANDLER_PASS;
	/* we may rewrite the skb: take a private copy if someone else holds it too */
	skb = skb_share_check(skb, GFP_ATOMIC);
	if (unlikely(!skb))
		return RX_HANDLER_CONSUMED;
	*pskb = skb;
	/* the datapath sees whole frames, as on transmit: put the MAC header back */
	skb_push(skb, skb->mac_len);
	if (vr_rs_rx(vif, skb))
		return RX_HANDLER_CONSUMED;
	skb_pull(skb, skb->mac_len);
	return RX_HANDLER_PASS;
}

int vrg_rx_handler_register(struct net_device *dev, void *vif)
{
	ASSERT_RTNL();
	return netdev_rx_handler_register(dev, vr_rx_handler, vif);
}

void vrg_rx_handler_unregister(struct net_device *dev)
{
	ASSERT_RTNL();
	/* only our own hook: another module's handler on this device is not ours to remove */
	if (rtnl_dereference(dev->rx_handler) != vr_rx_handler)
		return;
	/* waits for readers (synchronize_net) before it returns */
	netdev_rx_handler_unregister(dev);
}

/* The vhost device: the host's L3 interface into the vrouter. Its private area holds
 * an RCU pointer to the Rust vif; packets the host sends on it enter the datapath. */
struct vr_vhost_priv {
	void __rcu *vif;	/* the Rust side's cookie for the vif, NULL once detached */
};

static netdev_tx_t vr_vhost_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct vr_vhost_priv *priv = netdev_priv(dev);
	void *vif = rcu_dereference_bh(priv->vif);

	if (unlikely(!vif)) {
		dev_core_stats_tx_dropped_inc(dev);
		kfree_skb(skb);
		return NETDEV_TX_OK;
	}
	dev_sw_netstats_tx_add(dev, 1, skb->len);
	vr_rs_vhost_xmit(vif, skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops vr_vhost_ops = {
	.ndo_start_xmit = vr_vhost_xmit,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
	.ndo_get_stats64 = dev_get_tstats64,
};

static void vr_vhost_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &vr_vhost_ops;
	dev->needs_free_netdev = true;
	dev->netns_immutable = true;
	dev->lltx = true;
	dev->priv_flags |= IFF_NO_QUEUE;
	/* the core allocates dev->tstats: what the datapath hands to the host counts as rx */
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_TSTATS;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = ETH_MAX_MTU;
}

struct net_device *vrg_vhost_create(const char *name, const u8 *mac, void *vif, int *err)
{
	struct net_device *dev;
	struct vr_vhost_priv *priv;

	ASSERT_RTNL();
	dev = alloc_netdev(sizeof(*priv), name, NET_NAME_USER, vr_vhost_setup);
	if (!dev) {
		*err = -ENOMEM;
		return NULL;
	}
	priv = netdev_priv(dev);
	RCU_INIT_POINTER(priv->vif, vif);
	eth_hw_addr_set(dev, mac);
	*err = register_netdevice(dev);
	if (*err) {
		free_netdev(dev);
		return NULL;
	}
	return dev;
}

void vrg_vhost_destroy(struct net_device *dev)
{
	struct vr_vhost_priv *priv = netdev_priv(dev);

	ASSERT_RTNL();
	/* only a registered vhost device of ours; a second call is a no-op */
	if (dev->netdev_ops != &vr_vhost_ops || dev->reg_state != NETREG_REGISTERED)
		return;
	RCU_INIT_POINTER(priv->vif, NULL);
	unregister_netdevice(dev);
	/* the caller waits for an RCU grace period before it frees the vif */
}

void vrg_rtnl_lock(void)
{
	rtnl_lock();
}

void vrg_rtnl_unlock(void)
{
	rtnl_unlock();
}

bool vrg_rtnl_is_locked(void)
{
	return rtnl_is_locked();
}

static int vr_netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (event != NETDEV_UNREGISTER)
		return NOTIFY_DONE;
	if (rcu_access_pointer(dev->rx_handler) == vr_rx_handler ||
	    dev->netdev_ops == &vr_vhost_ops)
		vr_rs_netdev_unregister(dev);
	return NOTIFY_DONE;
}

static struct notifier_block vr_netdev_notifier = {
	.notifier_call = vr_netdev_event,
};

int vrg_notifier_register(void)
{
	return register_netdevice_notifier(&vr_netdev_notifier);
}

void vrg_notifier_unregister(void)
{
	unregister_netdevice_notifier(&vr_netdev_notifier);
}

/* ---- RCU ---- */

void vrg_rcu_read_lock(void)
{
	rcu_read_lock();
}

void vrg_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void vrg_synchronize_rcu(void)
{
	synchronize_rcu();
}

/* The Rust side embeds a struct rcu_head as two pointers (kapi/sys.rs RcuHead). */
static_assert(sizeof(struct rcu_head) == 2 * sizeof(void *));
static_assert(__alignof__(struct rcu_head) == __alignof__(void *));

void vrg_call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	call_rcu(head, func);
}

void vrg_rcu_barrier(void)
{
	rcu_barrier();
}

/* ---- lockdep: the flow table's bucket locks (atomics in the core), one class ---- */

#ifdef CONFIG_DEBUG_LOCK_ALLOC
static struct lock_class_key vr_flow_bucket_key;
static struct lockdep_map vr_flow_bucket_map =
	STATIC_LOCKDEP_MAP_INIT("vr_flow_bucket", &vr_flow_bucket_key);
#endif

void vrg_flow_bucket_acquire(void)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	spin_acquire(&vr_flow_bucket_map, 0, 0, _RET_IP_);
#endif
}

void vrg_flow_bucket_release(void)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	spin_release(&vr_flow_bucket_map, _RET_IP_);
#endif
}

/* ---- per-CPU memory ---- */

void *vrg_percpu_alloc(size_t size, size_t align)
{
	return (void __force *)__alloc_percpu_gfp(size, align, GFP_KERNEL | __GFP_ZERO);
}

void vrg_percpu_free(void *ptr)
{
	free_percpu((void __percpu __force *)ptr);
}

void *vrg_this_cpu_ptr(void *ptr)
{
	return this_cpu_ptr((void __percpu __force *)ptr);
}

void *vrg_per_cpu_ptr(void *ptr, int cpu)
{
	return per_cpu_ptr((void __percpu __force *)ptr, cpu);
}

int vrg_next_possible_cpu(int prev)
{
	unsigned int cpu = cpumask_next(prev, cpu_possible_mask);

	return cpu < nr_cpu_ids ? (int)cpu : -1;
}
